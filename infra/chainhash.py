"""The hash-chain link function, byte for byte (stdlib only).

This module is deliberately self-contained: the standalone audit verifier copies it verbatim, so
anything it needs must live here. The encoding is specified in ``docs/audit.md``::

    link(n) = SHA-256(
        prev_hash                      32 bytes (GENESIS_HASH for the first link)
        position                       8 bytes, big-endian signed   (notification id)
        len(originator_id) ‖ id        4 bytes, big-endian unsigned ‖ UTF-8 bytes
        originator_version             8 bytes, big-endian signed
        len(topic) ‖ topic             4 bytes, big-endian unsigned ‖ UTF-8 bytes
        len(state) ‖ state             8 bytes, big-endian unsigned ‖ stored state bytes
    )

Every variable-length field is length-prefixed and every number has a fixed width, so no two
different tuples share an encoding.
"""

from __future__ import annotations

import hashlib
import struct

HASH_SIZE = 32
GENESIS_HASH = bytes(HASH_SIZE)
"""The ``prev_hash`` of the first link: 32 zero bytes."""

_I64 = struct.Struct(">q")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")


def link_hash(
    prev_hash: bytes,
    position: int,
    originator_id: str,
    originator_version: int,
    topic: str,
    state: bytes,
) -> bytes:
    """Return the chain hash of one stored event, linked to its predecessor's hash.

    ``originator_id`` is the id as text: a UUID in its canonical lowercase hyphenated form
    (``str(uuid)``), a text id exactly as stored. ``state`` is the stored bytes, exactly as stored
    (after any compression or encryption).
    """
    if len(prev_hash) != HASH_SIZE:
        msg = f"prev_hash must be {HASH_SIZE} bytes, got {len(prev_hash)}"
        raise ValueError(msg)
    id_bytes = originator_id.encode("utf-8")
    topic_bytes = topic.encode("utf-8")
    h = hashlib.sha256()
    h.update(prev_hash)
    h.update(_I64.pack(position))
    h.update(_U32.pack(len(id_bytes)))
    h.update(id_bytes)
    h.update(_I64.pack(originator_version))
    h.update(_U32.pack(len(topic_bytes)))
    h.update(topic_bytes)
    h.update(_U64.pack(len(state)))
    h.update(state)
    return h.digest()
