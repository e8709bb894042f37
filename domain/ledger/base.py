"""What every part of the application service shares: loading, the expected-version rule,
"load → call → commit" once (`_change`), and the atomic write (`_commit`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import JSONTranscoder, Recording

from domain.base import DateAsISO, OkrAggregate
from domain.errors import NotFound, require
from domain.person import Person
from domain.quality import ObjectiveSpec, Organisation
from domain.team import Team

A = TypeVar("A", bound=OkrAggregate)

QualityContext = Callable[[UUID], tuple[Sequence[ObjectiveSpec], Organisation]]
"""A cycle's objectives and the team structure, as the read side sees them (for the quality
checks that compare an objective with its neighbours)."""


@dataclass(frozen=True)
class CommandResult:
    """What every command answers: the aggregate, its version, and where the write landed."""

    id: UUID
    version: int
    position: int | None
    extra_id: UUID | None = None
    """A child entity the command created (a key result, a check-in, an amendment)."""


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

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def _load(self, cls: type[A], aggregate_id: UUID, kind: str, field: str | None = None) -> A:
        try:
            aggregate: object = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(kind, aggregate_id, field) from None
        if not isinstance(aggregate, cls):
            raise NotFound(kind, aggregate_id, field)
        return aggregate

    def _load_version(self, cls: type[A], aggregate_id: UUID, kind: str, version: int | None) -> A:
        if version is None:
            return self._load(cls, aggregate_id, kind)
        try:
            aggregate: object = self.repository.get(aggregate_id, version=version)
        except AggregateNotFoundError:
            raise NotFound(kind, aggregate_id) from None
        if not isinstance(aggregate, cls):
            raise NotFound(kind, aggregate_id)
        return aggregate

    def _commit(
        self, primary: OkrAggregate, *others: OkrAggregate, extra_id: UUID | None = None
    ) -> CommandResult:
        # The result travels with the write: a store that records what a request wrote in
        # the same transaction (an Idempotency-Key, infra/idempotency.py) records it.
        intended = CommandResult(primary.id, primary.version, None, extra_id)
        recordings: list[Recording[UUID]] = self.save(primary, *others, command_result=intended)
        position = max((r.notification.id for r in recordings), default=None)
        return CommandResult(primary.id, primary.version, position, extra_id)

    def _expect(self, aggregate: OkrAggregate, expected_version: int | None) -> None:
        """Optimistic concurrency at the edge: If-Match names the version the client saw."""
        require(
            expected_version is None or aggregate.version == expected_version,
            "version_mismatch",
            f"expected version {expected_version}, current version is {aggregate.version}",
        )

    def _change(
        self,
        cls: type[A],
        aggregate_id: UUID,
        kind: str,
        call: Callable[[A], UUID | None],
        expected_version: int | None = None,
        extra_id: UUID | None = None,
    ) -> CommandResult:
        """Load → check the expected version → call the aggregate → commit. A child id the
        call returns (a measurement, a correction) is the result's `extra_id`."""
        aggregate = self._load(cls, aggregate_id, kind)
        self._expect(aggregate, expected_version)
        return self._commit(aggregate, extra_id=call(aggregate) or extra_id)

    def _owner_exists(self, owner_team_id: UUID | None, owner_person_id: UUID | None) -> None:
        """An owner (of an objective, a KPI, an initiative) is a live team or an active person."""
        if owner_team_id is not None:
            team = self._load(Team, owner_team_id, "team", "owner_team_id")
            require(
                not team.disbanded,
                "team_disbanded",
                "the owning team is disbanded",
                "owner_team_id",
            )
        if owner_person_id is not None:
            person = self._load(Person, owner_person_id, "person", "owner_person_id")
            require(person.active, "person_inactive", "the owner is deactivated", "owner_person_id")
