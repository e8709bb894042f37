"""What every part of the application service shares: loading, the expected-version rule,
"load → call → commit" once (`_on`), and the atomic write (`_commit`).

The write path of a command, kept short: the aggregate cache is moved on by the events a save
has just stored (`_advance_cache`), so the next command's load reads only what others wrote
since; a command may decide on cached copies without reading the store at all
(`_cached_copies`) when its save is conditioned on what it decided on being unchanged
(`_commit(..., unchanged=...)`); and a save collects the aggregates' events without
eventsourcing's runtime-protocol checks (`save`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass
from threading import Lock
from typing import Any, Generic, Protocol, TypeVar, cast, runtime_checkable
from uuid import UUID

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    ProcessingEvent,
    Repository,
    project_aggregate,
)
from eventsourcing.domain import CanMutateProtocol, DomainEventProtocol, MutableOrImmutableAggregate
from eventsourcing.persistence import JSONTranscoder, Recording
from eventsourcing.utils import strtobool

from domain.access import AccessToken
from domain.base import DateAsISO, OkrAggregate
from domain.channel import ChatChannel
from domain.cycle import Cycle
from domain.errors import NotFound, require
from domain.initiative import Initiative
from domain.kpi import Kpi
from domain.objective import Objective
from domain.person import Person
from domain.quality import ObjectiveSpec, Organisation, QualityPolicy
from domain.strategy import Strategy
from domain.team import Team
from domain.webhook import WebhookEndpoint

A = TypeVar("A", bound=OkrAggregate)
B = TypeVar("B", bound=OkrAggregate)


@runtime_checkable
class SelectsEventsAfter(Protocol):
    """A recorder that reads several aggregates' events after given versions in one query
    (`infra.chain.ChainedApplicationRecorder.select_events_after`)."""

    def select_events_after(self, after: Sequence[tuple[UUID, int]]) -> dict[Any, list[Any]]: ...


@runtime_checkable
class CommitsUnchanged(Protocol):
    """A recorder that can condition a save on another aggregate being unchanged
    (`infra.chain.ChainedApplicationRecorder.commits_unchanged`: ``save(...,
    unchanged=(id, version))`` is refused, as a stale version is, if that aggregate has moved
    on by the commit)."""

    def commits_unchanged(self) -> bool: ...


QualityContext = Callable[[UUID], tuple[Sequence[ObjectiveSpec], Organisation]]
"""A cycle's objectives and the team structure, as the read side sees them (for the quality
checks that compare an objective with its neighbours)."""


@dataclass(frozen=True)
class AggregateKind(Generic[A]):
    """An aggregate class and the name a missing one is reported by (`kpi_not_found`)."""

    cls: type[A]
    name: str


CYCLE = AggregateKind(Cycle, "cycle")
INITIATIVE = AggregateKind(Initiative, "initiative")
KPI = AggregateKind(Kpi, "kpi")
OBJECTIVE = AggregateKind(Objective, "objective")
PERSON = AggregateKind(Person, "person")
TEAM = AggregateKind(Team, "team")
TOKEN = AggregateKind(AccessToken, "token")
STRATEGY = AggregateKind(Strategy, "strategy")
QUALITY_POLICY = AggregateKind(QualityPolicy, "quality_policy")
WEBHOOK = AggregateKind(WebhookEndpoint, "webhook")
CHANNEL = AggregateKind(ChatChannel, "channel")


@dataclass(frozen=True)
class CommandResult:
    """What every command answers: the aggregate, its version, and where the write landed."""

    id: UUID
    version: int
    position: int | None
    extra_id: UUID | None = None
    """A child entity the command created (a key result, a check-in, an amendment)."""


class LedgerRepository(Repository[UUID]):
    """eventsourcing's repository with cheaper fast-forward locks.

    A cached aggregate is advanced in place under its fast-forward lock, which every load and
    save of it takes (three per objective command). eventsourcing recycles the lock objects
    through a second LRU cache with its own lock (an eviction and a put on every use, about
    a fifth of a command's bookkeeping); here a lock lives only while a thread uses it (the
    same lock for every thread using the aggregate meanwhile, as before) and is dropped when
    the last one is done."""

    def _use_fastforward_lock(self, aggregate_id: UUID) -> Lock:
        with self._fastforward_locks_lock:
            lock, users = self._fastforward_locks_inuse.get(aggregate_id, (None, 0))
            if lock is None:
                lock = Lock()
            self._fastforward_locks_inuse[aggregate_id] = (lock, users + 1)
            return lock

    def _disuse_fastforward_lock(self, aggregate_id: UUID) -> None:
        with self._fastforward_locks_lock:
            lock, users = self._fastforward_locks_inuse[aggregate_id]
            if users == 1:
                del self._fastforward_locks_inuse[aggregate_id]
            else:
                self._fastforward_locks_inuse[aggregate_id] = (lock, users - 1)


class LedgerBase(Application[UUID]):
    """The event-sourced application every part of the ledger extends."""

    PERSON_ID_SECRET = "PERSON_ID_SECRET"
    """Environment key: the hex secret that keys person ids (see ``person_id_for``)."""

    def __init__(self, env: Any = None) -> None:
        super().__init__(env)
        secret = self.env.get(self.PERSON_ID_SECRET)
        self.person_id_secret: bytes | None = bytes.fromhex(secret) if secret else None
        self.quality_context: QualityContext | None = None
        """Set by the composition root when read models run; without it, submission checks
        only what the objective shows on its own."""
        # What the recorder can do, asked once: `isinstance` against a runtime protocol walks
        # the protocol's attributes on every call.
        recorder: object = self.recorder
        self._events_after = recorder if isinstance(recorder, SelectsEventsAfter) else None
        self._unchanged_commits = recorder if isinstance(recorder, CommitsUnchanged) else None

    def construct_repository(self) -> Repository[UUID]:
        """eventsourcing's repository, as its `construct_repository` configures it, with the
        cheaper fast-forward locks of `LedgerRepository`."""
        cache_maxsize = self.env.get(self.AGGREGATE_CACHE_MAXSIZE)
        return LedgerRepository(
            event_store=self.events,
            snapshot_store=self.snapshots,
            cache_maxsize=int(cache_maxsize) if cache_maxsize else None,
            fastforward=strtobool(self.env.get(self.AGGREGATE_CACHE_FASTFORWARD, "y")),
            fastforward_skipping=strtobool(
                self.env.get(self.AGGREGATE_CACHE_FASTFORWARD_SKIPPING, "n")
            ),
            deepcopy_from_cache=strtobool(self.env.get(self.DEEPCOPY_FROM_AGGREGATE_CACHE, "y")),
        )

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def _load(self, kind: AggregateKind[A], aggregate_id: UUID, field: str | None = None) -> A:
        """The aggregate as it is now (every load of the current state passes here)."""
        return self._get(kind, aggregate_id, None, field)

    def _load_with(
        self,
        kind: AggregateKind[A],
        aggregate_id: UUID,
        related: Callable[[A], UUID],
        related_kind: AggregateKind[B],
    ) -> tuple[A, B]:
        """An aggregate and the one it names (an objective and its cycle). When both are in
        the aggregate cache, both are fast-forwarded with one query for their new events
        (one round trip instead of two); otherwise each is loaded as :meth:`_load` does."""
        pair = self._fast_forward_pair(kind.cls, aggregate_id, related, related_kind.cls)
        if pair is not None:
            return pair
        aggregate = self._load(kind, aggregate_id)
        return aggregate, self._load(related_kind, related(aggregate))

    def _fast_forward_pair(
        self,
        cls: type[A],
        aggregate_id: UUID,
        related: Callable[[A], UUID],
        related_cls: type[B],
    ) -> tuple[A, B] | None:
        repository = self.repository
        cache = repository.cache
        events_after = self._events_after
        if cache is None or not repository.fastforward or events_after is None:
            return None
        try:
            first: object = cache.get(aggregate_id)
            if not isinstance(first, cls):
                return None
            related_id = related(first)
            second: object = cache.get(related_id)
        except KeyError:
            return None
        if not isinstance(second, related_cls) or related_id == aggregate_id:
            return None
        # The repository's fast-forward locks (a cached aggregate is advanced in place), taken
        # in one order so that two loads of the same pair cannot wait on each other.
        ids = sorted((aggregate_id, related_id))
        locks = {i: repository._use_fastforward_lock(i) for i in ids}
        held: list[UUID] = []
        try:
            for i in ids:
                locks[i].acquire()
                held.append(i)
            found = events_after.select_events_after(
                [(aggregate_id, first.version), (related_id, second.version)]
            )
            to_domain_event = repository.event_store.mapper.to_domain_event
            for aggregate, originator_id in ((first, aggregate_id), (second, related_id)):
                project_aggregate(aggregate, map(to_domain_event, found.get(originator_id, ())))
            if related(first) != related_id:
                return None
            if not repository.deepcopy_from_cache:
                return first, second
            # Each copied under its own lock: a save in another thread may advance a cached
            # aggregate (`_advance_cache`) as soon as its lock is released. The related one
            # first (the cycle, which every command on the cycle's objectives loads), so that
            # its lock is held the shortest time.
            second_copy = deepcopy(second)
            locks[related_id].release()
            held.remove(related_id)
            return deepcopy(first), second_copy
        finally:
            for i in reversed(held):
                locks[i].release()
            for i in ids:
                repository._disuse_fastforward_lock(i)

    def _cached_copies(
        self,
        cls: type[A],
        aggregate_id: UUID,
        related: Callable[[A], UUID],
        related_cls: type[B],
    ) -> tuple[A, B] | None:
        """Copies of an aggregate and the one it names (an objective and its cycle) as this
        instance has them cached, without reading the store; None when either is not cached
        or the save that follows could not be conditioned (`CommitsUnchanged`).

        The cache may be behind the store (another process's writes), so a command decided
        on these copies must commit only if neither has moved on: the first by its own save
        (a stale version is refused by the store), the related one by the save's condition
        (`_commit(..., unchanged=related)`). A refused save, or a refusal of the command
        itself, is then decided again on the store's state (`_load_with`)."""
        repository = self.repository
        committer = self._unchanged_commits
        if (
            committer is None
            or repository.cache is None
            or not repository.fastforward
            or not repository.deepcopy_from_cache
            or not committer.commits_unchanged()
        ):
            return None
        first = self._cached_copy(cls, aggregate_id)
        if first is None:
            return None
        related_id = related(first)
        if related_id == aggregate_id:
            return None
        second = self._cached_copy(related_cls, related_id)
        if second is None:
            return None
        return first, second

    def _cached_copy(self, cls: type[A], aggregate_id: UUID) -> A | None:
        """A copy of the cached aggregate, made under the repository's fast-forward lock (a
        save in another thread advances a cached aggregate in place under it)."""
        repository = self.repository
        cache = repository.cache
        assert cache is not None
        lock = repository._use_fastforward_lock(aggregate_id)
        try:
            with lock:
                try:
                    cached: object = cache.get(aggregate_id)
                except KeyError:
                    return None
                return deepcopy(cached) if isinstance(cached, cls) else None
        finally:
            repository._disuse_fastforward_lock(aggregate_id)

    def _load_version(self, kind: AggregateKind[A], aggregate_id: UUID, version: int | None) -> A:
        if version is None:
            return self._load(kind, aggregate_id)
        return self._get(kind, aggregate_id, version, None)

    def _get(
        self, kind: AggregateKind[A], aggregate_id: UUID, version: int | None, field: str | None
    ) -> A:
        try:
            aggregate: object = self.repository.get(aggregate_id, version=version)
        except AggregateNotFoundError:
            raise NotFound(kind.name, aggregate_id, field) from None
        if not isinstance(aggregate, kind.cls):
            raise NotFound(kind.name, aggregate_id, field)
        return aggregate

    def save(
        self,
        *objs: MutableOrImmutableAggregate[UUID] | DomainEventProtocol[UUID] | None,
        **kwargs: Any,
    ) -> list[Recording[UUID]]:
        """`Application.save`, without its two runtime-protocol `isinstance` checks per object
        when every object is one of the ledger's aggregates (what the commands save); anything
        else is saved by eventsourcing's own."""
        if not all(isinstance(obj, OkrAggregate) for obj in objs):
            return super().save(*objs, **kwargs)
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        for aggregate in cast("tuple[OkrAggregate, ...]", objs):
            processing_event.events.extend(aggregate.collect_events())
            processing_event.aggregates[aggregate.id] = aggregate
        processing_event.saved_kwargs.update(kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        self.notify(processing_event.events)  # eventsourcing's save calls it too (deprecated)
        return recordings

    def _record(self, processing_event: ProcessingEvent[UUID]) -> list[Recording[UUID]]:
        recordings = super()._record(processing_event)
        self._advance_cache(processing_event.events, processing_event.aggregates)
        return recordings

    def _advance_cache(
        self,
        events: Sequence[DomainEventProtocol[UUID]],
        saved: Mapping[UUID, object] | None = None,
    ) -> None:
        """Move the cached aggregates on by the events just stored, which are what the next
        load's fast-forward would otherwise read back and decode: that load then reads only
        what others wrote since. A cached aggregate at the version before them is moved on
        (under the repository's fast-forward lock); one that has moved on already, or is
        behind (another writer's events between), is left to the next load's fast-forward,
        as is an aggregate not in the cache.

        A few events (a command's) are applied to the cached aggregate; more than
        `REPLAY_AT_MOST` (a bulk save's thousands) would cost as much as the save's own
        encoding, so the cache takes a copy of the aggregate the save has just stored, which
        is at the saved version already (`saved`, by id; a copy shares the immutable records,
        so it costs the aggregate's mutable state, not its history)."""
        repository = self.repository
        cache = repository.cache
        if cache is None or not repository.fastforward:
            return  # without fast-forward, eventsourcing caches the saved aggregates itself
        by_id: dict[UUID, list[Any]] = {}  # each a list of `CanMutateProtocol` events
        for event in events:
            by_id.setdefault(event.originator_id, []).append(event)
        for aggregate_id, its_events in by_id.items():
            lock = repository._use_fastforward_lock(aggregate_id)
            try:
                with lock:
                    self._advance_cached(aggregate_id, its_events, (saved or {}).get(aggregate_id))
            finally:
                repository._disuse_fastforward_lock(aggregate_id)

    REPLAY_AT_MOST = 8
    """A cached aggregate takes at most this many of a save's events by applying them; past
    it, it is replaced by a copy of the saved aggregate (`_advance_cache`)."""

    def _advance_cached(
        self, aggregate_id: UUID, events: list[CanMutateProtocol[Any]], saved: object
    ) -> None:
        cache = self.repository.cache
        assert cache is not None
        try:
            cached: Any = cache.get(aggregate_id)
        except KeyError:
            return
        if cached.version != events[0].originator_version - 1:
            return
        if (
            len(events) > self.REPLAY_AT_MOST
            and isinstance(saved, OkrAggregate)
            and saved.version == events[-1].originator_version
        ):
            cache.put(aggregate_id, deepcopy(saved))
            return
        try:
            for event in events:
                event.mutate(cached)
        except Exception:
            # The same events were just applied to the command's copy at the same version, so
            # this does not happen; if it did, the store has the truth: reload it next time.
            cache.get(aggregate_id, evict=True)

    def _commit(
        self,
        primary: OkrAggregate,
        *others: OkrAggregate,
        extra_id: UUID | None = None,
        unchanged: OkrAggregate | None = None,
    ) -> CommandResult:
        """Save the changed aggregates in one atomic write; with `unchanged`, only if that
        aggregate (one the command decided on without writing it) is still at its version
        in the store, else `IntegrityError` and nothing written (`_cached_copies`)."""
        # The result travels with the write: a store that records what a request wrote in
        # the same transaction (an Idempotency-Key, infra/idempotency.py) records it.
        intended = CommandResult(primary.id, primary.version, None, extra_id)
        condition: dict[str, Any] = {}
        if unchanged is not None:
            condition["unchanged"] = (unchanged.id, unchanged.version)
        recordings: list[Recording[UUID]] = self.save(
            primary, *others, command_result=intended, **condition
        )
        position = max((r.notification.id for r in recordings), default=None)
        return CommandResult(primary.id, primary.version, position, extra_id)

    def _expect(self, aggregate: OkrAggregate, expected_version: int | None) -> None:
        """Optimistic concurrency at the edge: If-Match names the version the client saw."""
        require(
            expected_version is None or aggregate.version == expected_version,
            "version_mismatch",
            f"expected version {expected_version}, current version is {aggregate.version}",
        )

    def _on(
        self,
        kind: AggregateKind[A],
        aggregate_id: UUID,
        expected_version: int | None,
        call: Callable[[A], UUID | None],
        field: str | None = None,
    ) -> CommandResult:
        """Load → check the expected version → call the aggregate → commit (every command of
        `domain/ledger/command.py`). A child id the call returns (a measurement, a correction)
        is the result's `extra_id`."""
        aggregate = self._load(kind, aggregate_id, field)
        self._expect(aggregate, expected_version)
        return self._commit(aggregate, extra_id=call(aggregate))

    def _owner_exists(self, owner_team_id: UUID | None, owner_person_id: UUID | None) -> None:
        """An owner (of an objective, a KPI, an initiative) is a live team or an active person."""
        if owner_team_id is not None:
            team = self._load(TEAM, owner_team_id, "owner_team_id")
            require(
                not team.disbanded,
                "team_disbanded",
                "the owning team is disbanded",
                "owner_team_id",
            )
        if owner_person_id is not None:
            person = self._load(PERSON, owner_person_id, "owner_person_id")
            require(person.active, "person_inactive", "the owner is deactivated", "owner_person_id")
