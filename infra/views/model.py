"""The read side's in-memory model: every fold at once, sharing what they can, noting what changed.

Folded one by one, the audit trail, the cycle history and the comparison would each keep their
own copy of the alignment tree and phrase each event twice. Here one `Context` (tree + names)
serves them all, in the order the folds themselves use:

1. phrase the event against the context as it stood before it (`narrate`, once for audit and
   history);
2. tally amendments and check-ins for the comparison (it compares old and new targets, so before
   the tree moves);
3. advance the context (the tree and the names);
4. the audit row, and the history entry (which reads the tree after the event);
5. directory, inbox and staleness, which keep their own small states.

The result equals folding each fold on its own (the property tests in `tests/views` hold it to
that). Append-only outputs (audit rows, history check-ins) are handed to `Changes` and dropped
from memory (the history's timeline is not kept: its view reads the audit rows); entity outputs
(objectives, teams, cycles, people) are noted by id, for a writer to turn into rows. Every
`checkpoint_every` positions the model also takes a time-travel checkpoint: the objectives, the
organisation and the strategy layer changed since the previous one.
"""

from __future__ import annotations

import tempfile
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any, Final, NamedTuple
from uuid import UUID

import orjson

from domain.cycle import Cycle, Phase
from domain.objective import Objective
from domain.person import Person
from domain.team import Team
from infra.views.codec import decode, dumps, load, loads
from projections.audit import AuditRow, told_row
from projections.base import DataclassFold, KindTest, Logged
from projections.catalogue import CATALOGUE, narrate
from projections.comparison import AmendmentTally, ComparisonState
from projections.comparison import tally as tally_comparison
from projections.directory import DirectoryFold, DirectoryState
from projections.entries import type_name
from projections.history import (
    CHECK_IN,
    CORRECTION,
    OBJECTIVE_EVENT,
    CheckInRecord,
    HistoryState,
    ObjectiveHistory,
)
from projections.history import record as record_history
from projections.inbox import InboxFold, InboxState, Negotiation
from projections.narrative import Context, Narration, advance
from projections.staleness import StalenessFold, StalenessState, WatchedObjective
from projections.strategy import StrategyFold
from projections.tree import CheckInPoint, ObjectiveNode, TreeState

# `tally` and `record` are the comparison's and the history's own steps, exposed so that one
# shared context serves every fold instead of four copies of it.

DIRECTORY: Final = "directory"
TREE: Final = "tree"
COMPARISON: Final = "comparison"
HISTORY: Final = "history"
AUDIT: Final = "audit"
INBOX: Final = "inbox"
STALENESS: Final = "staleness"
STRATEGY: Final = "strategy"
TIMETRAVEL: Final = "timetravel"

VIEWS: Final = (
    DIRECTORY,
    TREE,
    COMPARISON,
    HISTORY,
    AUDIT,
    INBOX,
    STALENESS,
    STRATEGY,
    TIMETRAVEL,
)
"""Every view, in the order `okr rebuild --all` lists them."""

_DIRECTORY = DirectoryFold()
_INBOX = InboxFold()
_STALENESS = StalenessFold()
_TEAM_EVENT = KindTest[Team.Event](Team.Event)
_CYCLE_EVENT = KindTest[Cycle.Event](Cycle.Event)
_PERSON_EVENT = KindTest[Person.Event](Person.Event)
_CYCLE_CLOSED = KindTest[Cycle.Closed](Cycle.Closed)
_CLOSED: Final = Phase.CLOSED.value
OWN_OBJECTIVE_ONLY: Final = CATALOGUE.objective_local()
"""Objective events no other objective's rows read (the catalogue's objective-local ones:
check-ins and grades, about 80% of a mature log). A shard skips them for the objectives it does not own; every other event it folds
into its context, because a sentence about its own objectives may name another objective or
key result (alignment, carry-over) and the organisation is everyone's."""
_OWN_OBJECTIVE_ONLY = KindTest[Objective.Event](*OWN_OBJECTIVE_ONLY)


@dataclass(frozen=True, slots=True)
class EventKind:
    """What the model asks of an event's class, answered once per class: one look-up per
    event instead of up to nine kind tests."""

    objective: bool
    check_in: bool
    correction: bool
    progress: bool
    """A check-in (not a correction): its audit row is stored as the values of a template
    (`CheckInAudit`), not narrated."""
    own_objective_only: bool
    cycle_closed: bool
    team: bool
    cycle: bool
    person: bool
    strategy: bool


_KINDS: dict[type[Any], EventKind] = {}


def event_kind(event_class: type[Any]) -> EventKind:
    found = _KINDS.get(event_class)
    if found is None:

        def of(test: KindTest[Any]) -> bool:
            return issubclass(event_class, test.classes)

        found = _KINDS[event_class] = EventKind(
            objective=of(OBJECTIVE_EVENT),
            check_in=of(CHECK_IN),
            correction=of(CORRECTION),
            progress=issubclass(event_class, Objective.ProgressReported),
            own_objective_only=of(_OWN_OBJECTIVE_ONLY),
            cycle_closed=of(_CYCLE_CLOSED),
            team=of(_TEAM_EVENT),
            cycle=of(_CYCLE_EVENT),
            person=of(_PERSON_EVENT),
            strategy=event_class in StrategyFold.handlers,
        )
    return found


def applier(a_fold: DataclassFold[Any]) -> Callable[[Any, Logged], Any]:
    """`a_fold.apply`, in one call per event instead of three (`apply`, `step`, the table's
    look-up) for a fold that keeps `DataclassFold`'s own `apply` and `step`."""
    kind = type(a_fold)
    if kind.apply is not DataclassFold.apply or kind.step is not DataclassFold.step:
        return a_fold.apply
    handler_for = a_fold.handlers.table().get

    def apply(state: Any, logged: Logged) -> None:
        if logged.position <= state.cursor.position:
            return
        handler = handler_for(type(logged.event))
        if handler is not None:
            handler(state, logged.event, logged)
        cursor = state.cursor
        cursor.position = logged.position
        cursor.now = logged.recorded_at

    return apply


_APPLY_DIRECTORY = applier(_DIRECTORY)
_APPLY_INBOX = applier(_INBOX)
_APPLY_STALENESS = applier(_STALENESS)


def shard_of(aggregate_id: UUID, count: int) -> int:
    """The shard (and Kafka partition) of an aggregate: its id's low 32 bits modulo `count`,
    which SQL computes as well (`infra.views.projector`)."""
    return (aggregate_id.int & 0xFFFFFFFF) % count


@dataclass(frozen=True)
class Shard:
    """One of `count` parts of the views: the rows of the aggregates `shard_of` gives it.

    Every shard folds the organisation (people, teams, cycles, strategy) and the structure of
    every objective (titles, key results, alignment), and writes only its own aggregates'
    rows; shard 0 also writes the rows that belong to no aggregate (the strategy view,
    the organisation's time-travel documents). Kafka workers run one per owned partition.
    """

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"shard {self.index} of {self.count} does not exist")

    def owns(self, aggregate_id: UUID) -> bool:
        return shard_of(aggregate_id, self.count) == self.index

    @property
    def name(self) -> str:
        return f"{self.index}-of-{self.count}"


@dataclass
class Snapshot:
    """A time-travel checkpoint: what changed since the previous one, as JSON bytes."""

    position: int
    shard: int = 0
    shards: int = 1
    """Which shard took it, of how many: a position is a complete checkpoint once every
    shard of one layout has taken it."""
    objectives: list[tuple[UUID, UUID, bytes]] = field(default_factory=list)
    """(objective id, cycle id, node document) for each objective changed since."""
    organisation: bytes | None = None
    """Every team link and cycle clock, when one of them changed since."""
    strategy: bytes | None = None
    """The strategy layer (strategy, KPIs, initiatives, quality levels), when it changed since."""


PROGRESS_REPORTED: Final = type_name(Objective.ProgressReported)
"""The event type of a check-in ("Objective.ProgressReported")."""


class CheckInAudit(NamedTuple):
    """A check-in's audit row as its template's values (three events in four are check-ins).

    Its sentence and after side are a fixed template (`projections.narrative.check_in_action`,
    `check_in_after`) over the key result's title as it stood then, the value, the confidence
    and the day: the views store those values (`doc`) and the title once per key result and
    title (`Changes.titles`), and the queries render the row when it is read. The entity is
    the objective; before, approver and entity type are the template's own."""

    position: int
    recorded_at: datetime
    actor: str
    objective_id: UUID
    key_result_id: UUID
    cycle_id: UUID
    doc: list[Any]
    """request id, entity version, value, confidence, note, check-in id, the day (ISO), then
    reason and provenance, left off the end when empty (`check_in_doc`)."""


def check_in_doc(event: Any) -> list[Any]:
    """A check-in event's `CheckInAudit.doc` (ids and the day as orjson writes them)."""
    doc = [
        event.request_id,
        event.originator_version,
        event.value,
        event.confidence,
        event.note,
        event.check_in_id,
        event.effective_on,
    ]
    provenance = event.provenance or None
    if provenance is not None:
        doc += (event.reason, provenance)
    elif event.reason:
        doc.append(event.reason)
    return doc


@dataclass
class Changes:
    """What a run of events changed, for a writer to turn into rows."""

    objectives: set[UUID] = field(default_factory=set)
    teams: set[UUID] = field(default_factory=set)
    cycles: set[UUID] = field(default_factory=set)
    people: set[UUID] = field(default_factory=set)
    audit: list[AuditRow | CheckInAudit] = field(default_factory=list)
    """In log order: a check-in's as its template's values, every other event's narrated."""
    titles: list[tuple[UUID, int, UUID, str]] = field(default_factory=list)
    """(key result id, position, objective id, title): a key result's title as the check-in
    at `position` and the following ones (up to its next title row) read it."""
    check_ins: list[tuple[UUID, UUID, CheckInRecord]] = field(default_factory=list)
    """(objective id, lineage id, record)."""
    superseded: list[tuple[UUID, UUID]] = field(default_factory=list)
    """(check-in id, id of the correction that superseded it)."""
    snapshots: list[Snapshot] = field(default_factory=list)
    strategy: bool = False
    """The strategy layer changed (the strategy view's row)."""

    def __bool__(self) -> bool:
        return bool(
            self.objectives
            or self.teams
            or self.cycles
            or self.people
            or self.audit
            or self.titles
            or self.check_ins
            or self.superseded
            or self.snapshots
            or self.strategy
        )


def needs(views: Iterable[str]) -> set[str]:
    """The parts of the model the given views need."""
    wanted = set(views)
    unknown = wanted - set(VIEWS)
    if unknown:
        raise ValueError(f"unknown view(s): {', '.join(sorted(unknown))}")
    parts = set(wanted)
    if wanted & {HISTORY, AUDIT}:
        parts.add("narrate")
    if wanted & {TREE, COMPARISON, HISTORY, AUDIT, STRATEGY, TIMETRAVEL}:
        parts.add("context")
    if wanted & {COMPARISON, TIMETRAVEL}:
        parts.add("tallies")
    return parts


Points = dict[UUID, list[CheckInPoint]]
"""Key result id → its live check-ins."""

Row = tuple[Any, ...]

TREE_OBJECTIVES: Final = "view_tree_objectives"
COMPARED: Final = "view_comparison"
HISTORY_OBJECTIVES: Final = "view_history_objectives"
INBOX_TABLE: Final = "view_inbox"
STALENESS_TABLE: Final = "view_staleness"
OBJECTIVE_TABLES: Final = {
    TREE_OBJECTIVES: TREE,
    COMPARED: COMPARISON,
    HISTORY_OBJECTIVES: HISTORY,
    INBOX_TABLE: INBOX,
    STALENESS_TABLE: STALENESS,
}
"""The entity tables with a row per objective, and the view each belongs to."""


def _text(doc: bytes) -> str:
    return doc.decode()


def tree_row(model: Model, node: ObjectiveNode) -> Row:
    """An objective's row of `view_tree_objectives`: its node with only the check-in in force
    per key result, and every live check-in beside it (for a later correction)."""
    live = {kr_id: kr.live_check_ins for kr_id, kr in node.key_results.items()}
    return (
        node.objective_id,
        node.cycle_id,
        model.seq.get(node.objective_id, node.drafted_position),
        node.owner_team_id,
        node.owner_person_id,
        node.approver_id,
        node.status,
        node.private,
        _text(trimmed(node)),
        _text(dumps(live)),
    )


def comparison_row(model: Model, node: ObjectiveNode) -> Row:
    tallies = model.tallies
    counts = {k: tallies.check_ins[k] for k in node.key_results if k in tallies.check_ins}
    doc = {"amendments": tallies.amendments.get(node.objective_id), "check_ins": counts}
    return (node.objective_id, node.cycle_id, _text(dumps(doc)))


def history_row(model: Model, objective_id: UUID, past: ObjectiveHistory) -> Row:
    return (objective_id, past.cycle_id, model.seq.get(objective_id, 0), _text(dumps(past)))


def inbox_row(model: Model, objective_id: UUID, item: Negotiation) -> Row:
    return (
        "objective",
        objective_id,
        model.seq.get(objective_id, 0),
        str(item.approver_id) if item.approver_id else None,
        item.submitted_by,
        _text(dumps(item)),
    )


def staleness_row(model: Model, objective_id: UUID, watched: WatchedObjective) -> Row:
    return (
        "objective",
        objective_id,
        model.seq.get(objective_id, 0),
        watched.cycle_id,
        _text(dumps(watched)),
    )


class Parked:
    """Closed cycles' objectives, out of memory: their rows, kept in a temporary file.

    When a cycle closes, each of its objectives is written here as the rows the views hold for
    it (tree, comparison, history, inbox, staleness: `objective_rows`) and dropped from the
    model's states. A closed cycle's objectives take no event until it is reopened, and an
    event that touches or names a parked objective (`Model.apply`) first reads it back from
    its rows, as a restore from the views would; the rows are written from here at the end of
    a rebuild (`infra.views.store.entity_tables`). So the model holds the open cycles'
    objectives only, and every answer is the same.
    """

    def __init__(self) -> None:
        self._file: IO[bytes] | None = None
        self.index: dict[int, tuple[UUID, int, int]] = {}
        """The id's number → (the id, where its rows start in the file, their length)."""
        self._end = 0
        self._lock = threading.Lock()  # the final save reads beside the rebuild's indexes
        self.saved_as: str | None = None
        """The saved rebuild (its key) whose parked rows `saved` describes."""
        self.saved: dict[int, int] = {}
        """The id's number → where its rows started in the file when they were saved there:
        a later save writes only the objectives parked since, and deletes those read back."""

    def __contains__(self, objective_id: object) -> bool:
        return isinstance(objective_id, UUID) and objective_id.int in self.index

    def __len__(self) -> int:
        return len(self.index)

    def put(self, objective_id: UUID, document: bytes) -> None:
        """Keep an objective's rows (`objective_rows` as JSON)."""
        with self._lock:
            if self._file is None:
                # Lives as long as the model: closed when the model is collected.
                self._file = tempfile.TemporaryFile(prefix="okr-parked-")  # noqa: SIM115
                weakref.finalize(self, self._file.close)
            self._file.seek(self._end)
            self._file.write(document)
            self.index[objective_id.int] = (objective_id, self._end, len(document))
            self._end += len(document)

    def raw(self, objective_id: UUID) -> bytes | None:
        """An objective's rows as JSON, or None when it is not parked."""
        with self._lock:
            found = self.index.get(objective_id.int)
            if found is None or self._file is None:
                return None
            self._file.seek(found[1])
            return self._file.read(found[2])

    def rows(self, objective_id: UUID) -> dict[str, Row] | None:
        """An objective's rows by table, or None when it is not parked."""
        document = self.raw(objective_id)
        return None if document is None else parked_rows(document)

    def take(self, objective_id: UUID) -> dict[str, Row] | None:
        """An objective's rows, no longer parked (the file's space is not reused)."""
        found = self.rows(objective_id)
        self.index.pop(objective_id.int, None)
        return found

    def ids(self) -> list[UUID]:
        return [found[0] for found in list(self.index.values())]

    def unsaved(self, key: str) -> tuple[list[UUID], list[tuple[UUID, int]]]:
        """What a save under `key` must change since the last one: the objectives whose saved
        rows are stale (read back since, or parked again), and the (id, where its rows start)
        of those to write, in the file's order."""
        saved = self.saved if self.saved_as == key else {}
        index = dict(self.index)
        stale = [
            UUID(int=number)
            for number, start in saved.items()
            if (found := index.get(number)) is None or found[1] != start
        ]
        fresh = sorted(
            (
                (oid, start)
                for number, (oid, start, _) in index.items()
                if saved.get(number) != start
            ),
            key=lambda item: item[1],
        )
        return stale, fresh

    def mark_saved(self, key: str, written: Iterable[tuple[UUID, int]] | None = None) -> None:
        """Note a save under `key`: every objective parked now (or only `written`, which
        were just read from that save) has its rows there."""
        if written is None:
            self.saved = {oid.int: start for oid, start, _ in self.index.values()}
        else:
            if self.saved_as != key:
                self.saved = {}
            self.saved.update((oid.int, start) for oid, start in written)
        self.saved_as = key

    def start_of(self, objective_id: UUID) -> int | None:
        found = self.index.get(objective_id.int)
        return None if found is None else found[1]

    def pages(
        self, entries: Sequence[tuple[UUID, int]], size: int
    ) -> Iterator[list[tuple[UUID, bytes]]]:
        """The rows of `entries` ((id, where its rows start) from `unsaved`), read from the
        file `size` objectives at a time: never every parked row at once."""
        for first in range(0, len(entries), size):
            page: list[tuple[UUID, bytes]] = []
            with self._lock:
                for objective_id, start in entries[first : first + size]:
                    found = self.index.get(objective_id.int)
                    if found is None or found[1] != start or self._file is None:
                        continue
                    self._file.seek(start)
                    page.append((objective_id, self._file.read(found[2])))
            yield page

    def items(self) -> Iterator[tuple[UUID, bytes]]:
        """(objective id, its rows as JSON) for every parked objective, in id order: a saved
        model's bytes do not depend on the order its objectives were parked in (a loaded model
        parks again the ones it had to read back)."""
        for objective_id in sorted(self.ids(), key=lambda i: i.int):
            document = self.raw(objective_id)
            if document is not None:
                yield objective_id, document


def parked_rows(document: bytes) -> dict[str, Row]:
    """The rows `Parked` keeps for an objective (ids as text, which COPY writes alike)."""
    return {table: tuple(row) for table, row in orjson.loads(document).items()}


class Model:
    """All folds over one log, at one position."""

    def __init__(
        self,
        views: Sequence[str] = VIEWS,
        checkpoint_every: int = 1000,
        shard: Shard | None = None,
        *,
        parking: bool = True,
    ) -> None:
        self.parking = parking
        """Closed cycles' objectives leave memory (`Parked`); off only to compare with."""
        self.shard = shard if shard is not None and shard.count > 1 else None
        """None: every aggregate's rows."""
        self.views = tuple(v for v in VIEWS if v in set(views))
        self.parts = needs(self.views)
        self.checkpoint_every = max(1, checkpoint_every)
        self.context = Context()
        self.tallies = ComparisonState(tree=self.context.tree)
        self.history = HistoryState(context=self.context)
        self.directory: DirectoryState = _DIRECTORY.initial()
        self.inbox: InboxState = _INBOX.initial()
        self.staleness: StalenessState = _STALENESS.initial()
        self.changes = Changes()
        self.position = 0
        self.seq: dict[UUID, int] = {}
        """Aggregate id → the position of its first event (orders the folds' dictionaries)."""
        self.last_checkpoint = 0
        """Position of the latest time-travel checkpoint."""
        self.unsaved_objectives: set[UUID] = set()
        """Objectives changed since the latest checkpoint."""
        self.unsaved_organisation = False
        self.unsaved_strategy = False
        """The strategy layer changed since the latest checkpoint."""
        self.parked = Parked()
        """Closed cycles' objectives, out of memory (their rows)."""
        self.to_park: set[UUID] = set()
        """Objectives of closed cycles still in memory, parked by the next `settle`."""
        self.unsaved_documents: dict[UUID, tuple[UUID, bytes]] = {}
        """The checkpoint documents of parked objectives among `unsaved_objectives`."""
        self.titles: dict[int, str] = {}
        """A key result's id (its number) → the title its latest check-in's audit row was
        given a title row for (`Changes.titles`). Not saved: a model that forgot a title
        writes it again at its next check-in, which reads the same."""
        self._narrate = "narrate" in self.parts
        self._context = "context" in self.parts
        self._tallies = "tallies" in self.parts
        self._audit = AUDIT in self.parts
        self._history = HISTORY in self.parts
        self._directory = DIRECTORY in self.parts
        self._inbox = INBOX in self.parts
        self._staleness = STALENESS in self.parts
        self._timetravel = TIMETRAVEL in self.parts

    @property
    def tree(self) -> TreeState:
        return self.context.tree

    # ----------------------------------------------------------------- folding

    def apply_all(self, events: Iterable[Logged]) -> None:
        for logged in events:
            self.apply(logged)

    def apply(self, logged: Logged) -> None:
        """Apply one event (skipped when at or before the model's position)."""
        if logged.position <= self.position:
            return
        if self._timetravel and logged.position > self._next_checkpoint():
            # The state before this event is the state at the last boundary it passes.
            every = self.checkpoint_every
            self.changes.snapshots.append(self.snapshot((logged.position - 1) // every * every))
        event = logged.event
        kind = _KINDS.get(type(event)) or event_kind(type(event))
        if self.parked.index:
            self._unpark_for(event, kind)
        shard = self.shard
        own = shard is None or shard.owns(event.originator_id)
        objective = kind.objective
        if not own and objective:
            # Another shard's objective: only what sentences about ours may quote.
            if self._context and not kind.own_objective_only:
                advance(self.context, logged)
            self._moved(logged)
            return
        told: Narration | None = None
        if self._narrate and own:
            if kind.progress:  # a template's values, not a sentence (`CheckInAudit`)
                if self._audit:
                    self.changes.audit.append(self._check_in_audit(logged))
            else:
                told = narrate(self.context, logged)
        if self._tallies:
            tally_comparison(self.tallies, logged)
        if self._context:
            advance(self.context, logged)
        if told is not None:
            if self._audit:
                self.changes.audit.append(told_row(told, logged))
            if self._history and objective:
                self._record(logged, told.action, told.key_result_id, kind)
        elif kind.progress and self._history and own and self._narrate:
            # No sentence: a summary is the timeline's, which the views read from the audit rows.
            self._record(logged, "", None, kind)
        if self._directory:
            _APPLY_DIRECTORY(self.directory, logged)
        if self._inbox:
            _APPLY_INBOX(self.inbox, logged)
        if self._staleness:
            _APPLY_STALENESS(self.staleness, logged)
        self._moved(logged)
        self._touch(event, own, kind)
        if self._context and kind.cycle_closed and self.parking:
            self.to_park.update(self.tree.cycle_objectives.get(event.originator_id, ()))

    def _check_in_audit(self, logged: Logged) -> CheckInAudit:
        """A check-in's audit row, against the tree before it (as `narrate` would phrase it),
        and its key result's title row when the title is not the one the previous check-in's
        row read."""
        event: Any = logged.event
        objective_id = event.originator_id
        kr_id = event.key_result_id
        node = self.context.tree.objectives[objective_id]
        title = node.key_results[kr_id].title
        if self.titles.get(kr_id.int) != title:
            self.titles[kr_id.int] = title
            self.changes.titles.append((kr_id, logged.position, objective_id, title))
        return CheckInAudit(
            logged.position,
            logged.recorded_at,
            event.actor,
            objective_id,
            kr_id,
            node.cycle_id,
            check_in_doc(event),
        )

    # ----------------------------------------------------------------- parking

    def _unpark_for(self, event: Any, kind: EventKind) -> None:
        """Read back the parked objectives `event` touches or names, before it is folded."""
        index = self.parked.index
        if event.originator_id.int in index:  # an event of a parked objective
            self.unpark(event.originator_id)
        if kind.own_objective_only:  # check-ins and grades name no other objective
            return
        for value in event.__dict__.values():
            kind_of = type(value)
            if kind_of is UUID:
                if value.int in index:
                    self.unpark(value)
            elif kind_of is list or kind_of is tuple:
                for item in value:
                    if type(item) is UUID and item.int in index:
                        self.unpark(item)

    def settle(self) -> None:
        """Park the objectives of closed cycles waiting for it (`Parked`)."""
        if not self.to_park or not self.parking:
            return
        tree = self.tree
        for objective_id in self.to_park:
            node = tree.objectives.get(objective_id)
            if node is None:
                continue
            clock = tree.cycles.get(node.cycle_id)
            if clock is None or clock.phase != _CLOSED:
                continue
            self.park(node)
        self.to_park = set()

    def park_closed_cycles(self) -> None:
        """Park every objective of a closed cycle (a model restored or loaded)."""
        if not self.parking:
            return
        tree = self.tree
        self.to_park.update(
            objective_id
            for objective_id, node in tree.objectives.items()
            if (clock := tree.cycles.get(node.cycle_id)) is not None and clock.phase == _CLOSED
        )
        self.settle()

    def park(self, node: ObjectiveNode) -> None:
        """Write an objective's rows to `parked` and drop its state from memory (its document
        for the next time-travel checkpoint, if it has changed since the last one, is made
        now: it cannot change while parked)."""
        objective_id = node.objective_id
        if self._timetravel and objective_id in self.unsaved_objectives:
            self.unsaved_documents[objective_id] = (
                node.cycle_id,
                objective_document(self.tallies, node),
            )
        self.parked.put(objective_id, orjson.dumps(self.objective_rows(node)))
        del self.tree.objectives[objective_id]
        self.history.objectives.pop(objective_id, None)
        self.inbox.objectives.pop(objective_id, None)
        self.staleness.objectives.pop(objective_id, None)
        tallies = self.tallies
        tallies.amendments.pop(objective_id, None)
        for kr_id in node.key_results:
            tallies.check_ins.pop(kr_id, None)
            self.titles.pop(kr_id.int, None)

    def unpark(self, objective_id: UUID) -> None:
        """Read a parked objective back into the model's states from its rows, as
        `infra.views.store.ViewStore.restore` reads them from the views."""
        rows = self.parked.take(objective_id)
        if rows is None:
            return
        self.unsaved_documents.pop(objective_id, None)  # made again from the node
        tree_row_ = rows[TREE_OBJECTIVES]
        node = decode(ObjectiveNode, tree_row_[8])
        node.objective_id = objective_id  # the model's id object, not a decoded copy
        for kr_id, points in decode(Points, tree_row_[9]).items():
            node.key_results[kr_id].live_check_ins = points
        self.tree.objectives[objective_id] = node
        compared = loads(rows[COMPARED][2])
        if compared["amendments"] is not None:
            self.tallies.amendments[objective_id] = load(AmendmentTally, compared["amendments"])
        for kr_id, count in compared["check_ins"].items():
            self.tallies.check_ins[UUID(kr_id)] = count
        if (past := rows.get(HISTORY_OBJECTIVES)) is not None:
            self.history.objectives[objective_id] = load(ObjectiveHistory, loads(past[3]))
        if (item := rows.get(INBOX_TABLE)) is not None:
            self.inbox.objectives[objective_id] = load(Negotiation, loads(item[5]))
        if (watched := rows.get(STALENESS_TABLE)) is not None:
            self.staleness.objectives[objective_id] = load(WatchedObjective, loads(watched[4]))
        self.to_park.add(objective_id)  # parked again once untouched, if its cycle is closed

    def objective_rows(self, node: ObjectiveNode) -> dict[str, Row]:
        """The rows every objective table holds for `node`'s objective (the states the model
        keeps of it, whichever views it was made for)."""
        objective_id = node.objective_id
        rows = {TREE_OBJECTIVES: tree_row(self, node), COMPARED: comparison_row(self, node)}
        if (past := self.history.objectives.get(objective_id)) is not None:
            rows[HISTORY_OBJECTIVES] = history_row(self, objective_id, past)
        if (item := self.inbox.objectives.get(objective_id)) is not None:
            rows[INBOX_TABLE] = inbox_row(self, objective_id, item)
        if (watched := self.staleness.objectives.get(objective_id)) is not None:
            rows[STALENESS_TABLE] = staleness_row(self, objective_id, watched)
        return rows

    def _moved(self, logged: Logged) -> None:
        self.position = logged.position
        self.tallies.cursor.position = self.history.cursor.position = logged.position
        self.tallies.cursor.now = self.history.cursor.now = logged.recorded_at

    def _record(self, logged: Logged, summary: str, kr_id: UUID | None, kind: EventKind) -> None:
        event: Any = logged.event  # a check-in or a correction where `kind` says so
        # No timeline entry: the history view reads an objective's timeline from its audit rows.
        record_history(self.history, logged, summary, kr_id, timeline=False)
        if kind.check_in:
            entry = self.history.objectives[event.originator_id]
            kr = entry.key_results[event.key_result_id]
            self.changes.check_ins.append((event.originator_id, kr.lineage_id, kr.check_ins.pop()))
            if kind.correction:
                self.changes.superseded.append((event.supersedes, event.check_in_id))

    def _touch(self, event: Any, own: bool, kind: EventKind) -> None:
        changes = self.changes
        if event.originator_id not in self.seq:
            self.seq[event.originator_id] = self.position
        # Rows belong to the aggregate's shard; what belongs to none, to shard 0.
        common = self.shard is None or self.shard.index == 0
        if kind.objective:
            changes.objectives.add(event.originator_id)
            self.unsaved_objectives.add(event.originator_id)
        elif kind.team:
            if own:
                changes.teams.add(event.originator_id)
            self.unsaved_organisation = self.unsaved_organisation or common
        elif kind.cycle:
            if own:
                changes.cycles.add(event.originator_id)
            self.unsaved_organisation = self.unsaved_organisation or common
        elif kind.person:
            if own:
                changes.people.add(event.originator_id)
        elif kind.strategy:
            changes.strategy = changes.strategy or common
            self.unsaved_strategy = self.unsaved_strategy or common

    def take_changes(self) -> Changes:
        """What changed since the last call (closed cycles' objectives parked meanwhile: their
        rows come from `parked`)."""
        self.settle()
        changes, self.changes = self.changes, Changes()
        return changes

    # -------------------------------------------------------------- snapshots

    def _next_checkpoint(self) -> int:
        every = self.checkpoint_every
        return (self.last_checkpoint // every + 1) * every

    def snapshot(self, position: int | None = None) -> Snapshot:
        """A checkpoint of what changed since the previous one, as of `position` (default: the
        model's; no event of this shard may lie between the two)."""
        shard = self.shard or Shard(0, 1)
        snap = Snapshot(self.position if position is None else position, shard.index, shard.count)
        for objective_id in sorted(self.unsaved_objectives, key=str):
            node = self.tree.objectives.get(objective_id)
            if node is not None:
                snap.objectives.append(
                    (objective_id, node.cycle_id, objective_document(self.tallies, node))
                )
            elif (parked := self.unsaved_documents.get(objective_id)) is not None:
                snap.objectives.append((objective_id, *parked))
        if self.unsaved_organisation:
            snap.organisation = organisation_document(self.tree)
        if self.unsaved_strategy:
            snap.strategy = dumps(self.context.strategy)
        self.unsaved_objectives = set()
        self.unsaved_documents = {}
        self.unsaved_organisation = False
        self.unsaved_strategy = False
        self.last_checkpoint = snap.position
        return snap


# -------------------------------------------------------------- documents


def trimmed(node: ObjectiveNode) -> bytes:
    """The node as JSON with only the check-in in force per key result.

    That is all a rendering needs (progress, confidence, staleness use the current check-in);
    the full list matters only to fold a later correction, and as-of queries refold an
    objective from its own events when a correction follows.
    """
    saved = [(kr, kr.live_check_ins) for kr in node.key_results.values()]
    try:
        for kr, _ in saved:
            kr.live_check_ins = [kr.current] if kr.current is not None else []
        return dumps(node)
    finally:
        for kr, live in saved:
            kr.live_check_ins = live


def objective_document(tallies: ComparisonState, node: ObjectiveNode) -> bytes:
    """What time travel keeps of an objective: its trimmed node and its comparison tallies."""
    counts = {kr: tallies.check_ins[kr] for kr in node.key_results if kr in tallies.check_ins}
    return (
        b'{"node":'
        + trimmed(node)
        + b',"amendments":'
        + dumps(tallies.amendments.get(node.objective_id))
        + b',"check_ins":'
        + dumps(counts)
        + b"}"
    )


def organisation_document(tree: TreeState) -> bytes:
    """Every team link and cycle clock of the tree."""
    return dumps({"teams": tree.teams, "cycles": tree.cycles})
