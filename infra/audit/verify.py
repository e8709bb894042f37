"""``okr audit verify`` and ``GET /api/v1/audit/verify``: the chain, then its signed checkpoints.

:func:`verify_chain` finds edits, deletions, insertions and reorderings, but a history rewritten
consistently (every later link recomputed) still forms a valid chain. Such a rewrite is caught by
comparing the chain with checkpoints signed before it happened: the stored ones (signatures
checked against the configured public keys, never keys from the database) and any published
ones or heads passed in. The report names the first position where something disagrees.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from infra.audit.checkpoints import Checkpoint, CheckpointStore
from infra.audit.keys import trusted_public_keys
from infra.audit.standalone import format_time
from infra.chain import ChainReader, verify_chain
from infra.repeating import Repeating
from infra.settings import Settings, get_settings
from infra.verifications import VERIFICATIONS

log = logging.getLogger("okrledger.audit")

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from eventsourcing.application import Application

    from infra.chain import ChainReport


@dataclass(frozen=True)
class PublishedHead:
    """A chain hash recorded outside the database (a ticket, a report): ``position:hash``."""

    position: int
    hash: bytes

    @classmethod
    def parse(cls, text: str) -> PublishedHead:
        position, _, hash_hex = text.partition(":")
        chain_hash = bytes.fromhex(hash_hex)
        if len(chain_hash) != 32:
            msg = f"expected POSITION:HASH with a 64-digit hex hash, got {text!r}"
            raise ValueError(msg)
        return cls(int(position), chain_hash)


@dataclass(frozen=True)
class AnswerCheck:
    """A saved answer's position and chain hash against the stored chain (``verify_answer``)."""

    position: int
    given: bytes | None
    """The hash the answer stated (None: only the stored one was asked for)."""
    stored: bytes
    """The stored chain's hash at ``position`` (its link, or the one before a gap)."""

    @property
    def matches(self) -> bool | None:
        return None if self.given is None else self.given == self.stored

    def as_json(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "hash": self.given.hex() if self.given is not None else None,
            "stored_hash": self.stored.hex(),
            "matches": self.matches,
        }


class PositionBeyondLog(ValueError):
    """The position asked about is past the log's last position."""

    def __init__(self, position: int, head: int) -> None:
        super().__init__(f"the log ends at position {head}; {position} is beyond it")
        self.position = position
        self.head = head


def parse_chain_hash(text: str) -> bytes:
    """A chain hash as the API states it: 64 hexadecimal digits (ValueError otherwise)."""
    value = text.strip().lower()
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        msg = "a chain hash is 64 hexadecimal digits (as in OKR-Chain-Hash)"
        raise ValueError(msg)
    return bytes.fromhex(value)


@dataclass(frozen=True)
class Problem:
    problem: str
    """edited | deleted | inserted | reordered (the chain), rewritten | forged-checkpoint."""
    position: int | None
    detail: str


@dataclass(frozen=True)
class AuditReport:
    """The verdict: the chain's own report plus what the signed checkpoints say."""

    chain: ChainReport
    checkpoints_checked: int
    latest_checkpoint: Checkpoint | None
    problems: tuple[Problem, ...] = ()
    notes: tuple[str, ...] = ()
    answer: AnswerCheck | None = None
    """With ``verify_answer``: the saved answer's hash against the chain's."""

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_problem(self) -> Problem | None:
        return self.problems[0] if self.problems else None

    def as_json(self) -> dict[str, Any]:
        first = self.first_problem
        latest = self.latest_checkpoint
        return {
            "ok": self.ok,
            "count": self.chain.count,
            "head_position": self.chain.head_position,
            "head_hash": self.chain.head_hash.hex() if self.chain.head_hash else None,
            "problem": first.problem if first else None,
            "position": first.position if first else None,
            "detail": first.detail if first else "",
            "problems": [p.__dict__ for p in self.problems],
            "checkpoints_checked": self.checkpoints_checked,
            "latest_checkpoint": None
            if latest is None
            else {
                "position": latest.position,
                "hash": latest.hash.hex(),
                "signed_at": format_time(latest.signed_at),
                "key_id": latest.key_id,
                "reason": latest.reason,
            },
            "notes": list(self.notes),
            "answer": None if self.answer is None else self.answer.as_json(),
        }


def audit_verify(
    app: Application[Any],
    *,
    from_position: int | None = None,
    to_position: int | None = None,
    published: Iterable[Checkpoint | PublishedHead] = (),
    settings: Settings | None = None,
    trusted_keys: Mapping[str, Ed25519PublicKey] | None = None,
) -> AuditReport:
    """Verify ``app``'s chain over a range, and the checkpoints that fall in it."""
    keys = (
        trusted_keys
        if trusted_keys is not None
        else trusted_public_keys(settings or get_settings())
    )
    reader = ChainReader.for_recorder(app.recorder)
    chain = verify_chain(reader, from_position=from_position, to_position=to_position, record=False)
    store = CheckpointStore(app.recorder)
    store.create_tables()
    low = from_position if from_position is not None else 0
    high = to_position
    stored = store.list(low, high)
    outside = [p for p in published if low <= p.position <= (high or p.position)]
    hashes = store.link_hashes(sorted({c.position for c in [*stored, *outside]}))
    problems: list[Problem] = []
    notes: list[str] = []
    if chain.problem is not None:
        problems.append(Problem(chain.problem, chain.position, chain.detail))
    signed = [c for c in [*stored, *outside] if isinstance(c, Checkpoint)]
    problems += _signed(signed, keys, notes)
    problems += _compare(
        [c for c in stored if not keys or c.verify(keys)], hashes, "signed checkpoint"
    )
    problems += _compare(
        [c for c in outside if not (keys and isinstance(c, Checkpoint)) or c.verify(keys)],
        hashes,
        "published checkpoint",
    )
    problems.sort(key=lambda p: (p.position is None, p.position or 0))
    VERIFICATIONS.record(
        not problems, chain.head_position, problems[0].problem if problems else None
    )
    return AuditReport(
        chain=chain,
        checkpoints_checked=len(stored) + len(outside),
        latest_checkpoint=stored[-1] if stored else None,
        problems=tuple(problems),
        notes=tuple(notes),
    )


def _signed(
    checkpoints: Sequence[Checkpoint], keys: Mapping[str, Ed25519PublicKey], notes: list[str]
) -> list[Problem]:
    if not keys:
        if checkpoints:
            notes.append("no audit key configured: checkpoint signatures were not checked")
        return []
    return [
        Problem(
            "forged-checkpoint",
            c.position,
            f"the checkpoint signed {format_time(c.signed_at)} by key {c.key_id} "
            + ("has an invalid signature" if c.key_id in keys else "names an untrusted key"),
        )
        for c in checkpoints
        if not c.verify(keys)
    ]


def _compare(
    checkpoints: Sequence[Checkpoint | PublishedHead], hashes: Mapping[int, bytes], what: str
) -> list[Problem]:
    """Each checkpoint against the chain; a mismatch bounds a rewrite between two of them."""
    problems: list[Problem] = []
    last_good: int | None = None
    for checkpoint in sorted(checkpoints, key=lambda c: c.position):
        current = hashes.get(checkpoint.position)
        if current == checkpoint.hash:
            last_good = checkpoint.position
            continue
        since = f" after position {last_good}, where a {what} still matches" if last_good else ""
        if current is None:
            detail = f"the chain has no link at {checkpoint.position}, which a {what} covers"
            problems.append(Problem("deleted", checkpoint.position, detail))
        else:
            detail = (
                f"the chain at {checkpoint.position} differs from the {what} there: the history "
                f"up to {checkpoint.position} was rewritten{since}"
            )
            problems.append(Problem("rewritten", checkpoint.position, detail))
        break  # later checkpoints only repeat the news
    return problems


def verify_answer(
    app: Application[Any],
    position: int,
    given: bytes | None,
    *,
    settings: Settings | None = None,
    trusted_keys: Mapping[str, Ed25519PublicKey] | None = None,
) -> AuditReport:
    """Whether the log up to ``position`` is still the one that answered with hash ``given``
    (an answer's ``OKR-Position`` and ``OKR-Chain-Hash``): the chain up to ``position`` must
    verify (and agree with the signed checkpoints in it), and its hash at ``position`` must be
    ``given``. Raises :class:`PositionBeyondLog` for a position past the log's end."""
    head = app.recorder.max_notification_id() or 0
    if position > head:
        raise PositionBeyondLog(position, head)
    report = audit_verify(app, to_position=position, settings=settings, trusted_keys=trusted_keys)
    stored = ChainReader.for_recorder(app.recorder).hash_at(position)
    check = AnswerCheck(position, given, stored)
    problems = list(report.problems)
    if check.matches is False:
        assert given is not None
        problems.append(
            Problem(
                "hash_mismatch",
                position,
                f"the chain's hash at position {position} is {stored.hex()}, not the given "
                f"{given.hex()}: the log up to {position} is not the one that gave this answer"
                + (
                    " (the chain itself verifies: the answer came from another store, or the "
                    "history up to it was rewritten consistently since)"
                    if report.chain.ok
                    else ""
                ),
            )
        )
        problems.sort(key=lambda p: (p.position is None, p.position or 0))
    return replace(report, problems=tuple(problems), answer=check)


class PeriodicVerification(Repeating):
    """A daemon thread that runs :func:`audit_verify` over the whole chain every ``interval``
    seconds while a server runs (``OKR_AUDIT_VERIFY_INTERVAL_SECONDS``); each outcome becomes
    the process's last verification, which ``GET /metrics`` reports."""

    def __init__(self, app: Application[Any], interval: float, settings: Settings) -> None:
        super().__init__("chain-verify", interval, at_once=False)
        self.app = app
        self.settings = settings

    def round(self) -> None:
        report = audit_verify(self.app, settings=self.settings)
        if not report.ok and report.first_problem is not None:
            log.error("the chain does not verify: %s", report.first_problem.detail)


def start_periodic_verification(
    app: Application[Any], settings: Settings
) -> PeriodicVerification | None:
    """Verify the chain every ``settings.audit_verify_interval_seconds`` (None when 0)."""
    if not settings.audit_verify_interval_seconds:
        return None
    verifier = PeriodicVerification(app, settings.audit_verify_interval_seconds, settings)
    verifier.start()
    return verifier
