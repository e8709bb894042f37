"""From records to domain commands: what an import would create, change, skip and drop, and the
events it would write, worked out in memory through the aggregates' own commands (so every
domain rule is checked for every row before anything is written).

Idempotency: an imported objective's id is derived from its external id (`external_uuid`), a
key result's lineage id likewise, so a second import finds what the first one wrote; a cycle and
a team are found by name, a person by e-mail, a check-in by its key result and date. Every event
carries the provenance of its row (file, SHA-256, sheet, row, external id, importing person).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import DomainEventProtocol

from api.imports.reading import Problem
from api.imports.records import Record, Records
from domain.application import OkrLedger
from domain.base import SYSTEM, CommandContext, OkrAggregate
from domain.cycle import Cadence, Cycle, Scoring
from domain.errors import OkrError
from domain.objective import Kind, Objective, Status
from domain.objective_bulk import report_progress
from domain.person import Person
from domain.scoring import Direction, Measure
from domain.team import MemberRole, Team
from projections.directory import DirectoryState

NAMESPACE = uuid.UUID("5a1c6d0e-7f0b-4c55-9a52-0b7c3f1e2d44")
"""The namespace of ids derived from external ids (never change it: imports find by it)."""

A = TypeVar("A", bound=OkrAggregate)

REASON = "import"
"""The reason every change an import makes carries."""


def external_uuid(kind: str, external_id: str) -> UUID:
    return uuid.uuid5(NAMESPACE, f"{kind}:{external_id}")


@dataclass(frozen=True)
class Line:
    """One line of the report: what happens to one record."""

    kind: str
    key: str
    sheet: str
    row: int | None
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Batch:
    at: datetime
    """The instant the batch is recorded at (an imported check-in's date; now for changes)."""
    events: list[DomainEventProtocol[UUID]] = field(default_factory=list)


@dataclass
class Plan:
    created: list[Line] = field(default_factory=list)
    changed: list[Line] = field(default_factory=list)
    skipped: list[Line] = field(default_factory=list)
    dropped: list[Problem] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    batches: list[Batch] = field(default_factory=list)

    @property
    def events(self) -> int:
        return sum(len(b.events) for b in self.batches)


@dataclass(frozen=True)
class Names:
    """The live teams and the cycles by name, as the directory knows them (a copy)."""

    teams: dict[str, UUID]
    cycles: dict[str, UUID]

    @classmethod
    def of(cls, state: DirectoryState) -> Names:
        return cls(
            {e.name: i for i, e in state.teams.items() if not e.disbanded},
            {e.name: i for i, e in state.cycles.items()},
        )


@dataclass(frozen=True)
class Source:
    """The file an import reads, as its provenance names it."""

    file_name: str
    sha256: str
    format: str


class Planner:
    """Runs the records through the domain in memory; `plan()` answers the whole plan."""

    def __init__(
        self,
        ledger: OkrLedger,
        directory: Names,
        source: Source,
        importer: UUID,
        *,
        fallback_owner: UUID | None = None,
    ) -> None:
        self.ledger = ledger
        self.directory = directory
        self.source = source
        self.importer = importer
        self.fallback_owner = fallback_owner
        self.now = datetime.now(UTC)
        self.today = self.now.date()
        self.request_id = uuid.uuid4().hex
        self.plan = Plan()
        self.people: dict[str, UUID] = {}
        self.teams: dict[str, Team] = {}
        self.cycles: dict[str, Cycle] = {}
        self.objectives: dict[str, Objective] = {}
        self.key_results: dict[str, tuple[Objective, UUID]] = {}
        self.touched: dict[UUID, OkrAggregate] = {}
        self.amend: dict[UUID, tuple[Record, dict[str, Any]]] = {}
        self.failed: set[str] = set()
        """External ids of objectives and key results whose rows failed."""
        self.awaiting: set[str] = set()
        """Key results added through an amendment: tracked once it is approved."""
        self.on_batch: Callable[[Batch], None] | None = None
        """Called with each batch as it is planned while no row has failed (the bulk writer
        starts writing it; the caller rolls back if a later row fails)."""
        self._live_check_ins: dict[UUID, dict[date, list[Any]]] = {}
        self._targets: dict[str, tuple[Objective, UUID, dict[date, list[Any]], Cycle]] = {}
        self._importer_text = str(importer)
        self._provenance = {
            "source": "import",
            "format": source.format,
            "file": source.file_name,
            "sha256": source.sha256,
        }

    # ------------------------------------------------------------------ helpers

    def ctx(self, record: Record, at: datetime | None, actor: str | None = None) -> CommandContext:
        provenance = {
            **self._provenance,
            "sheet": record.where.sheet,
            "row": str(record.where.row),
            "imported_by": self._importer_text,
        }
        if record.kind in ("objective", "key_result", "check_in"):
            # A check-in's is its key result's external id and date; never a person's e-mail.
            provenance["external_id"] = record.key
        return CommandContext(
            actor=actor or self._importer_text,
            request_id=self.request_id,
            at=at,
            provenance=provenance,
        )

    def error(self, record: Record, rule: str, message: str, column: str | None = None) -> None:
        self.plan.errors.append(
            Problem(rule, message, record.where.sheet, record.where.row, column)
        )

    def line(self, bucket: list[Line], record: Record, detail: str = "") -> None:
        bucket.append(Line(record.kind, record.key, record.where.sheet, record.where.row, detail))

    def attempt(self, record: Record, action: Callable[[], object]) -> bool:
        """Run a domain command; a rule it breaks becomes an error on the record's row."""
        try:
            action()
        except OkrError as error:
            self.error(record, error.rule, error.message, error.field)
            return False
        return True

    def flush(self, at: datetime) -> None:
        """Collect the events the aggregates gained since the last flush into one batch."""
        batch = Batch(at)
        for aggregate in self.touched.values():
            batch.events.extend(aggregate.collect_events())
        if batch.events:
            self.plan.batches.append(batch)
            if self.on_batch is not None and not self.plan.errors:
                self.on_batch(batch)

    def _load(self, cls: type[A], aggregate_id: UUID) -> A | None:
        aggregate: object = self.touched.get(aggregate_id)
        if aggregate is None:
            try:
                aggregate = self.ledger.repository.get(aggregate_id)
            except AggregateNotFoundError:
                return None
        return aggregate if isinstance(aggregate, cls) else None

    def _known(
        self, cls: type[A], found: dict[str, A], key: str, aggregate_id: UUID | None
    ) -> A | None:
        """The team, cycle or objective `key` names: planned or loaded before, else loaded by
        its id (and kept under `key`)."""
        if key in found:
            return found[key]
        aggregate = self._load(cls, aggregate_id) if aggregate_id else None
        if aggregate is not None:
            found[key] = aggregate
        return aggregate

    def _cycle_of(self, objective: Objective) -> Cycle:
        cycle = self._load(Cycle, objective.cycle_id)
        assert cycle is not None, "an objective's cycle exists"
        return cycle

    # ------------------------------------------------------------------ the plan

    def run(self, records: Records) -> Plan:
        self.plan.errors.extend(records.problems)
        self.plan.dropped.extend(records.dropped)
        items = self._unique(records)
        check_in_dates = [r.values["effective_on"] for r in items if r.kind == "check_in"]
        starts = [r.values["starts_on"] for r in items if r.kind == "cycle"]
        first = min([*check_in_dates, *starts, self.today])
        definitions_at = min(datetime.combine(first, time(8, 0), UTC), self.now)
        for record in _of(items, "person"):
            self._person(record, definitions_at)
        for record in _ordered_teams(_of(items, "team"), self):
            self._team(record, definitions_at)
        for record in _of(items, "cycle"):
            self._cycle(record, definitions_at)
        key_results = defaultdict(list)
        for record in _of(items, "key_result"):
            key_results[record.values["objective"]].append(record)
        for record in _ordered_objectives(_of(items, "objective"), _of(items, "key_result"), self):
            self._objective(record, key_results.get(record.key, []), definitions_at)
        for records_ in key_results.values():
            for record in records_:
                if record.values["objective"] not in self.objectives:
                    self._orphan_key_result(record)
        self.flush(definitions_at)
        by_day: dict[date, list[Record]] = defaultdict(list)
        for record in _of(items, "check_in"):
            by_day[record.values["effective_on"]].append(record)
        corrections: list[tuple[Record, Objective, UUID, UUID]] = []
        for day_ in sorted(by_day):
            at = min(datetime.combine(day_, time(17, 0), UTC), self.now)
            for record in by_day[day_]:
                self._check_in(record, at, corrections)
            self.flush(at)
        for record, objective, kr_id, check_in_id in corrections:
            self._correct(record, objective, kr_id, check_in_id)
        for objective_id, (record, changes) in self.amend.items():
            amended = self._load(Objective, objective_id)
            assert amended is not None
            self._amend(record, amended, changes)
        self.flush(self.now)
        return self.plan

    def _unique(self, records: Records) -> list[Record]:
        """One record per key and kind: a repeat with other values is an error (a flat file
        repeats an objective on each of its key results' rows: identical repeats are one)."""
        seen: dict[tuple[str, str], Record] = {}
        out: list[Record] = []
        for record in records.items:
            key = (record.kind, record.key)
            first = seen.get(key)
            if first is None:
                seen[key] = record
                out.append(record)
                continue
            if record.flat and first.flat and first.values == record.values:
                continue
            label = "external id" if record.kind in ("objective", "key_result") else "key"
            self.error(
                record,
                "duplicate_external_id" if label == "external id" else "duplicate_row",
                f"{record.kind} {label} '{record.key}' also appears on {first.where}",
            )
        return out

    # -------------------------------------------------------------- the registry

    def person_for(self, email: str) -> UUID | None:
        if email in self.people:
            return self.people[email]
        person = self.ledger.find_person_by_email(email)
        if person is not None and person.active:
            self.people[email] = person.id
            return person.id
        return None

    def _person(self, record: Record, at: datetime) -> None:
        email = record.values["email"]
        if self.person_for(email) is not None:
            self.line(self.plan.skipped, record, "already registered")
            return
        person_id = self.ledger.person_id_for(email)
        if self._load(Person, person_id) is not None:
            self.error(record, "person_inactive", f"{email} is deactivated or forgotten", "email")
            return
        try:
            person = Person.register(record.values["name"], email, self.ctx(record, at), person_id)
        except OkrError as error:
            self.error(record, error.rule, error.message, error.field)
            return
        self.touched[person.id] = person
        self.people[email] = person.id
        self.line(self.plan.created, record)

    def team_for(self, name: str) -> Team | None:
        return self._known(Team, self.teams, name, self.directory.teams.get(name))

    def _team(self, record: Record, at: datetime) -> None:
        name = record.values["name"]
        if self.team_for(name) is not None:
            self.line(self.plan.skipped, record, "a team of this name exists")
            return
        parent_id = None
        if parent_name := record.values.get("parent"):
            parent = self.team_for(parent_name)
            if parent is None:
                self.error(
                    record, "team_not_found", f"parent team '{parent_name}' not found", "parent"
                )
                return
            parent_id = parent.id
        ctx = self.ctx(record, at)
        try:
            team = Team.form(name, parent_id, ctx)
            if manager := record.values.get("manager_email"):
                manager_id = self.person_for(manager)
                if manager_id is None:
                    self.error(
                        record,
                        "person_not_found",
                        f"no person with e-mail {manager}",
                        "manager_email",
                    )
                    return
                team.add_member(manager_id, MemberRole.MANAGER, ctx)
        except OkrError as error:
            self.error(record, error.rule, error.message, error.field)
            return
        self.touched[team.id] = team
        self.teams[name] = team
        self.line(self.plan.created, record)

    def cycle_for(self, name: str) -> Cycle | None:
        return self._known(Cycle, self.cycles, name, self.directory.cycles.get(name))

    def _cycle(self, record: Record, at: datetime) -> None:
        values = record.values
        existing = self.cycle_for(values["name"])
        if existing is not None:
            same = (existing.starts_on, existing.ends_on) == (
                values["starts_on"],
                values["ends_on"],
            )
            self.line(
                self.plan.skipped,
                record,
                "a cycle of this name exists"
                + ("" if same else f" ({existing.starts_on} to {existing.ends_on}; not changed)"),
            )
            return
        ctx = self.ctx(record, at)
        try:
            cycle = Cycle.plan(
                values["name"],
                values["starts_on"],
                values["ends_on"],
                ctx,
                Cadence(values.get("cadence", "weekly")),
                Scoring(values.get("scoring", "scale")),
            )
            if cycle.starts_on <= self.today:
                cycle.start(ctx)  # imported history is tracked history: the cycle is active
        except OkrError as error:
            self.error(record, error.rule, error.message, error.field)
            return
        self.touched[cycle.id] = cycle
        self.cycles[values["name"]] = cycle
        started = cycle.starts_on <= self.today
        self.line(self.plan.created, record, "planned and started" if started else "planned")

    # ---------------------------------------------------------------- objectives

    def objective_for(self, external_id: str) -> Objective | None:
        aggregate_id = external_uuid("objective", external_id)
        return self._known(Objective, self.objectives, external_id, aggregate_id)

    def _owner(self, record: Record) -> tuple[UUID | None, UUID | None] | None:
        values = record.values
        if email := values.get("owner_email"):
            person_id = self.person_for(email)
            if person_id is not None:
                return None, person_id
            if self.fallback_owner is None:
                self.error(
                    record,
                    "owner_not_found",
                    f"no active person with e-mail {email} (add them to the people sheet, or "
                    "give a fallback owner)",
                    "owner_email",
                )
                return None
            return None, self.fallback_owner
        if team_name := values.get("owner_team"):
            team = self.team_for(team_name)
            if team is not None:
                return team.id, None
            if self.fallback_owner is None:
                self.error(record, "owner_not_found", f"no team named '{team_name}'", "owner_team")
                return None
            return None, self.fallback_owner
        if self.fallback_owner is not None:
            return None, self.fallback_owner
        self.error(
            record, "owner_required", "an objective needs owner_email or owner_team", "owner_email"
        )
        return None

    def _parent(self, record: Record) -> tuple[Objective | None, UUID | None] | None:
        parent_ref = record.values.get("parent_external_id")
        if not parent_ref:
            return None, None
        if parent_ref in self.failed:
            return None  # the parent's row says why
        if parent_ref in self.key_results:
            objective, kr_id = self.key_results[parent_ref]
            return objective, kr_id
        parent = self.objective_for(parent_ref)
        if parent is None:
            self.error(
                record,
                "parent_not_found",
                f"no objective or key result with external id '{parent_ref}' (in this file or "
                "imported before)",
                "parent_external_id",
            )
            return None
        return parent, None

    def _objective(self, record: Record, key_results: list[Record], at: datetime) -> None:
        """A new objective with its key results, submitted and approved; or the changes to
        one imported before. When it fails, its key results and check-ins are not reported
        again: the objective's row says why."""
        if not self._objective_row(record, key_results, at):
            self.failed.add(record.key)
            self.failed.update(kr.key for kr in key_results)

    def _objective_row(self, record: Record, key_results: list[Record], at: datetime) -> bool:
        values = record.values
        cycle = self.cycle_for(values["cycle"])
        if cycle is None:
            self.error(
                record,
                "cycle_not_found",
                f"no cycle named '{values['cycle']}' (add it to the cycles sheet)",
                "cycle",
            )
            return False
        existing = self.objective_for(record.key)
        if existing is not None:
            self._existing_objective(record, existing, key_results)
            return True
        owner = self._owner(record)
        parent = self._parent(record)
        if owner is None or parent is None:
            return False
        ctx = self.ctx(record, at)
        try:
            objective = Objective.draft(
                cycle=cycle,
                owner_team_id=owner[0],
                owner_person_id=owner[1],
                title=values["title"],
                kind=Kind(values.get("kind", "committed")),
                description=values.get("description", ""),
                parent=parent[0],
                parent_key_result_id=parent[1],
                ctx=ctx,
                objective_id=external_uuid("objective", record.key),
            )
        except OkrError as error:
            self.error(record, error.rule, error.message, error.field)
            return False
        added = [kr for kr in key_results if self._add_key_result(kr, objective, cycle, at)]
        if len(added) != len(key_results):
            return False
        if not added:
            self.error(
                record,
                "key_results_required",
                "an imported objective needs at least one key result",
                "external_id",
            )
            return False
        submitted = self.attempt(
            record,
            lambda: objective.submit_for_approval(
                cycle, self.importer, self.ctx(record, at, actor=SYSTEM)
            ),
        )
        if not submitted or not self.attempt(record, lambda: objective.approve(cycle, ctx)):
            return False
        self.touched[objective.id] = objective
        self.objectives[record.key] = objective
        self.line(self.plan.created, record, f"with {len(added)} key result(s), approved")
        return True

    def _add_key_result(
        self, record: Record, objective: Objective, cycle: Cycle, at: datetime
    ) -> bool:
        values = record.values
        try:
            kr_id = objective.add_key_result(
                title=values["title"],
                measure=Measure(values.get("measure", "metric")),
                cycle=cycle,
                ctx=self.ctx(record, at),
                baseline=values.get("baseline"),
                target=values.get("target"),
                unit=values.get("unit", ""),
                direction=Direction(values.get("direction", "increase")),
                weight=values.get("weight", 1.0),
                lineage_id=external_uuid("key_result", record.key),
            )
        except OkrError as error:
            self.error(record, error.rule, error.message, error.field)
            return False
        self.key_results[record.key] = (objective, kr_id)
        self.line(self.plan.created, record)
        return True

    def _existing_objective(
        self, record: Record, objective: Objective, key_results: list[Record]
    ) -> None:
        """An objective imported before: what differs becomes one amendment (reason `import`)."""
        changes: dict[str, Any] = {}
        values = record.values
        if values["title"] != objective.title:
            changes["title"] = values["title"]
        if values.get("description", "") != objective.description:
            changes["description"] = values.get("description", "")
        kr_changes: dict[str, dict[str, Any]] = {}
        additions: list[dict[str, Any]] = []
        differing: list[tuple[Record, str]] = []
        by_lineage = {kr.lineage_id: kr for kr in objective.active_key_results}
        for kr_record in key_results:
            kr = by_lineage.get(external_uuid("key_result", kr_record.key))
            kv = kr_record.values
            if kr is None:
                additions.append(
                    {
                        "title": kv["title"],
                        "measure": kv.get("measure", "metric"),
                        "baseline": kv.get("baseline"),
                        "target": kv.get("target"),
                        "unit": kv.get("unit", ""),
                        "direction": kv.get("direction", "increase"),
                        "weight": kv.get("weight", 1.0),
                    }
                )
                differing.append((kr_record, "added through an amendment"))
                self.awaiting.add(kr_record.key)
                continue
            self.key_results[kr_record.key] = (objective, kr.id)
            change: dict[str, Any] = {
                name: kv[name]
                for name in ("title", "baseline", "target", "weight")
                if name in kv and kv[name] != getattr(kr, name)
            }
            if change:
                kr_changes[str(kr.id)] = change
                differing.append((kr_record, "amendment: " + ", ".join(change)))
            else:
                self.line(self.plan.skipped, kr_record, "unchanged")
        if kr_changes:
            changes["key_results"] = kr_changes
        if additions:
            changes["add_key_results"] = additions
        self.objectives[record.key] = objective
        self.touched.setdefault(objective.id, objective)
        if not changes:
            self.line(self.plan.skipped, record, "unchanged")
            return
        if objective.pending_amendment is not None:
            for differs in (record, *(r for r, _ in differing)):
                self.line(self.plan.skipped, differs, "differs, but an amendment awaits a decision")
            return
        self.amend[objective.id] = (record, changes)
        self.line(self.plan.changed, record, "amendment proposed: " + ", ".join(changes))
        for kr_record, detail in differing:
            self.line(self.plan.changed, kr_record, detail)

    def _amend(self, record: Record, objective: Objective, changes: dict[str, Any]) -> None:
        cycle = self._cycle_of(objective)
        self.attempt(
            record,
            lambda: objective.propose_amendment(cycle, changes, REASON, self.ctx(record, self.now)),
        )

    def _orphan_key_result(self, record: Record) -> None:
        """A key result whose objective has no row in the file: found in the store by its
        external id (its check-ins are imported), else an error."""
        if record.values["objective"] in self.failed:
            return
        objective = self.objective_for(record.values["objective"])
        if objective is None:
            self.error(
                record,
                "objective_not_found",
                f"no objective with external id '{record.values['objective']}'",
                "objective",
            )
            return
        lineage = external_uuid("key_result", record.key)
        kr = next((k for k in objective.active_key_results if k.lineage_id == lineage), None)
        if kr is None:
            self.error(
                record,
                "objective_row_required",
                "a new key result of an objective imported before needs the objective's row "
                "too (the change becomes an amendment)",
                "objective",
            )
            return
        self.key_results[record.key] = (objective, kr.id)
        self.line(self.plan.skipped, record, "exists (its objective's row is not in the file)")

    # ----------------------------------------------------------------- check-ins

    def _check_in(
        self,
        record: Record,
        at: datetime,
        corrections: list[tuple[Record, Objective, UUID, UUID]],
    ) -> None:
        values = record.values
        target = self._targets.get(values["key_result"])
        if target is None:
            target = self._target(record)
            if target is None:
                return
        objective, kr_id, by_day, cycle = target
        effective_on = values["effective_on"]
        if effective_on > self.today:
            self.error(
                record,
                "effective_date_in_future",
                f"effective_on {effective_on} is after today",
                "effective_on",
            )
            return
        confidence = values.get("confidence", 5)
        note = values.get("note", "")
        same_day = by_day.get(effective_on)
        if same_day:
            current = max(same_day, key=lambda c: c.recorded_at)
            if (current.value, current.confidence, current.note) == (
                values["value"],
                confidence,
                note,
            ):
                self.line(self.plan.skipped, record, "unchanged")
            else:
                corrections.append((record, objective, kr_id, current.id))
            return
        if objective.status != Status.APPROVED and objective.id not in self.touched:
            self.error(record, "not_approved", "the objective is not approved", "key_result")
            return
        try:
            # Objective.check_in's rules and event, on the bulk path (domain/objective_bulk.py).
            report_progress(
                objective,
                cycle,
                kr_id,
                values["value"],
                confidence,
                self.ctx(record, at),
                note,
                effective_on,
            )
        except OkrError as error:
            self.error(record, error.rule, error.message, error.field)
            return
        self.touched.setdefault(objective.id, objective)
        self.line(self.plan.created, record)

    def _target(
        self, record: Record
    ) -> tuple[Objective, UUID, dict[date, list[Any]], Cycle] | None:
        """What a check-in row's key result is checked in on (its objective, id, live
        check-ins by date, cycle), looked up once per key result; None (reported, unless its
        key result's own row says why) when it is not found."""
        values = record.values
        found = self.key_results.get(values["key_result"])
        if found is None:
            if values["key_result"] in self.awaiting:
                self.line(self.plan.skipped, record, "its key result awaits an amendment")
            elif values["key_result"] not in self.failed:
                self.error(
                    record,
                    "key_result_not_found",
                    f"no key result with external id '{values['key_result']}'",
                    "key_result",
                )
            return None
        objective, kr_id = found
        target = (objective, kr_id, self._check_ins_on(objective.key_results[kr_id]))
        self._targets[values["key_result"]] = (*target, self._cycle_of(objective))
        return self._targets[values["key_result"]]

    def _check_ins_on(self, kr: Any) -> dict[date, list[Any]]:
        """A key result's live check-ins by date, as they were before this file (a file has
        one row per key result and date, so its own check-ins never meet each other here)."""
        by_day = self._live_check_ins.get(kr.id)
        if by_day is None:
            by_day = self._live_check_ins[kr.id] = defaultdict(list)
            for c in kr.check_ins:
                if c.superseded_by is None:
                    by_day[c.effective_on].append(c)
        return by_day

    def _correct(
        self, record: Record, objective: Objective, kr_id: UUID, check_in_id: UUID
    ) -> None:
        cycle = self._cycle_of(objective)
        values = record.values
        if self.attempt(
            record,
            lambda: objective.correct_check_in(
                cycle,
                kr_id,
                check_in_id,
                values["value"],
                REASON,
                self.ctx(record, self.now),
                values.get("confidence"),
                values.get("note", ""),
            ),
        ):
            self.touched.setdefault(objective.id, objective)
            self.line(self.plan.changed, record, "corrected (reason: import)")


# ------------------------------------------------------------------ ordering


def _of(items: list[Record], kind: str) -> list[Record]:
    return [r for r in items if r.kind == kind]


def _ordered_teams(teams: list[Record], planner: Planner) -> Iterator[Record]:
    """Parents before children (a team whose parent is in the file waits for it)."""
    names = {r.values["name"] for r in teams}
    done: set[str] = set()
    pending = list(teams)
    while pending:
        progressed = False
        for record in list(pending):
            parent = record.values.get("parent")
            if parent is None or parent not in names or parent in done:
                pending.remove(record)
                done.add(record.values["name"])
                progressed = True
                yield record
        if not progressed:
            for record in pending:
                planner.error(
                    record, "team_cycle", "the parent links of these teams form a cycle", "parent"
                )
            return


def _ordered_objectives(
    objectives: list[Record], key_results: list[Record], planner: Planner
) -> Iterator[Record]:
    """Parents before children; a parent key result counts as its objective. Parent links
    that loop are an error on every row of the loop."""
    kr_objective = {r.key: r.values["objective"] for r in key_results}
    keys = {r.key for r in objectives}

    def parent_of(record: Record) -> str | None:
        ref = record.values.get("parent_external_id")
        ref = kr_objective.get(ref, ref) if ref else None
        return ref if ref in keys else None

    done: set[str] = set()
    pending = list(objectives)
    while pending:
        progressed = False
        for record in list(pending):
            parent = parent_of(record)
            if parent is None or parent in done:
                pending.remove(record)
                done.add(record.key)
                progressed = True
                yield record
        if not progressed:
            loop = ", ".join(f"{r.key} ({r.where})" for r in pending)
            for record in pending:
                planner.error(
                    record,
                    "parent_cycle",
                    f"parent links form a cycle: {loop}",
                    "parent_external_id",
                )
            return
