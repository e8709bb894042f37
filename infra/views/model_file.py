"""A rebuild's model on disk: its state part by part, as JSON, compressed one part at a time,
and loaded back (`infra/views/rebuild.py` saves it with its position to resume from)."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from typing import Any
from uuid import UUID

import orjson

from infra.views.codec import decode, dumps, load, loads
from infra.views.model import OBJECTIVE_TABLES, Model, Points, Shard
from projections.comparison import AmendmentTally
from projections.directory import DirectoryState
from projections.history import ObjectiveHistory
from projections.inbox import InboxState
from projections.staleness import StalenessState
from projections.strategy import StrategyState
from projections.tree import TreeState


def model_parts(model: Model) -> list[tuple[str, Any]]:
    """The model's state, part by part (append-only outputs are never held)."""
    return [
        ("views", model.views),
        ("shard", [model.shard.index, model.shard.count] if model.shard is not None else None),
        ("position", model.position),
        ("last_checkpoint", model.last_checkpoint),
        ("unsaved_objectives", sorted(model.unsaved_objectives, key=str)),
        ("unsaved_organisation", model.unsaved_organisation),
        ("unsaved_strategy", model.unsaved_strategy),
        ("seq", model.seq),
        ("tree", model.tree),
        ("names", model.context.names),
        ("strategy", model.context.strategy),
        ("amendments", model.tallies.amendments),
        ("check_ins", model.tallies.check_ins),
        ("history", model.history.objectives),
        ("directory", model.directory),
        ("inbox", model.inbox),
        ("staleness", model.staleness),
    ]


def _json_chunks(model: Model, parked: bool) -> Iterator[bytes]:
    """The model's state as one JSON object, part by part; the parked objectives' rows
    (`Parked`, kept in a file) one objective at a time, or none (`parked=False`)."""
    for n, (name, value) in enumerate(model_parts(model)):
        yield (b"{" if n == 0 else b",") + dumps(name) + b":" + dumps(value)
    if not parked:
        yield b"}"
        return
    yield b',"parked":{'
    for n, (objective_id, document) in enumerate(model.parked.items()):
        yield (b"," if n else b"") + dumps(str(objective_id)) + b":" + document
    yield b"}}"


def model_bytes(model: Model, *, parked: bool = True) -> bytes:
    """The model's state as one JSON object (without the parked objectives' rows: `parked=False`,
    a rebuild's save, which keeps them in a table of their own)."""
    return b"".join(_json_chunks(model, parked))


def compressed_model(model: Model, *, parked: bool = True) -> bytes:
    """`zlib.compress(model_bytes(model, parked=parked), 1)`, encoded and compressed one part
    at a time: the whole JSON of a large model is never held at once."""
    packer = zlib.compressobj(1)
    chunks = [packer.compress(chunk) for chunk in _json_chunks(model, parked)]
    chunks.append(packer.flush())
    return b"".join(chunks)


def model_from_bytes(
    data: bytes,
    checkpoint_every: int,
    more_parked: Iterable[tuple[UUID, bytes]] = (),
    saved_as: str | None = None,
) -> Model:
    """The model `model_bytes` encoded; `more_parked`: more parked objectives' rows (a rebuild's
    save keeps them apart), saved under `saved_as` (`Parked.saved`)."""
    raw = loads(data)
    shard = Shard(*raw["shard"]) if raw.get("shard") else None
    model = Model(tuple(raw["views"]), checkpoint_every, shard)
    model.position = raw["position"]
    model.last_checkpoint = raw["last_checkpoint"]
    model.unsaved_objectives = {UUID(i) for i in raw["unsaved_objectives"]}
    model.unsaved_organisation = raw["unsaved_organisation"]
    model.unsaved_strategy = raw["unsaved_strategy"]
    model.seq = {UUID(k): v for k, v in raw["seq"].items()}
    tree = load(TreeState, raw["tree"])
    model.context.tree = tree
    model.tallies.tree = tree
    model.context.names = {UUID(k): v for k, v in raw["names"].items()}
    model.context.strategy = load(StrategyState, raw["strategy"])
    model.tallies.amendments = {
        UUID(k): load(AmendmentTally, v) for k, v in raw["amendments"].items()
    }
    model.tallies.check_ins = {UUID(k): v for k, v in raw["check_ins"].items()}
    model.history.objectives = {
        UUID(k): load(ObjectiveHistory, v) for k, v in raw["history"].items()
    }
    model.directory = load(DirectoryState, raw["directory"])
    model.inbox = load(InboxState, raw["inbox"])
    model.staleness = load(StalenessState, raw["staleness"])
    for objective_id, parked in raw.get("parked", {}).items():
        if set(parked) <= set(OBJECTIVE_TABLES):  # an objective's rows
            model.parked.put(UUID(objective_id), orjson.dumps(parked))
        elif (node := tree.objectives.get(UUID(objective_id))) is not None:
            # Saved before whole objectives were parked: its key results' live check-ins.
            for kr_id, points in decode(Points, dumps(parked)).items():
                if kr_id in node.key_results:
                    node.key_results[kr_id].live_check_ins = points
    written: list[tuple[UUID, int]] = []
    for objective_id, document in more_parked:
        model.parked.put(objective_id, document)
        start = model.parked.start_of(objective_id)
        if start is not None:
            written.append((objective_id, start))
    if saved_as is not None:
        model.parked.mark_saved(saved_as, written)
    for state in (model.tallies, model.history):
        state.cursor.position, state.cursor.now = tree.cursor.position, tree.cursor.now
    for objective_id in model.unsaved_objectives:  # its checkpoint document is made again
        if objective_id in model.parked:
            model.unpark(objective_id)
    model.park_closed_cycles()
    return model
