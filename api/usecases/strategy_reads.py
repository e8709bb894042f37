"""The strategy's reads: the strategy, its map of a cycle, the KPI dashboard and one KPI, the
initiatives, and the quality coach's findings (on a cycle, or on a draft being written).

One handler per query, shared by the HTTP routes (`api/routes/strategy.py`, `kpis.py`,
`initiatives.py`, `lint.py`) and the strategy pages. Every read may be answered now, as of an
instant or at a log position (`moment`); private objectives the caller may not see are left
out of every answer (`api/visibility.py`), and the answer's position is recorded as the routes
always did (the read models note what they read; `positions.reflected()` where the answer
states it in its body).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any
from uuid import UUID, uuid4

from api import policy, positions, visibility
from api import strategy_schemas as ss
from api.deps import NOW, ReadAt, Services, get_readmodels, visible_objective
from api.errors import not_found
from api.policy import Principal
from api.usecases import UseCases
from api.usecases.queries import known_cycle, moment
from domain.quality import KeyResultSpec, ObjectiveSpec
from infra.readmodels import ReadModels
from projections.strategy_dashboard import EVERY_INITIATIVE, Initiatives

Json = dict[str, Any]


def hidden_objectives(services: Services, principal: Principal, readmodels: ReadModels) -> set[str]:
    """Ids (as strings) of the private objectives the caller may not see."""
    if policy.reads_everything(principal):
        return set()
    found = readmodels.strategy.private_objectives()
    with services.directory.current() as directory:
        return visibility.hidden_ids(found, visibility.viewer(directory, principal))


def without_hidden(
    items: Iterable[Json], hidden: set[str], key: str = "objective_id"
) -> list[Json]:
    return [i for i in items if str(i.get(key)) not in hidden]


class StrategyQueries(UseCases):
    """The strategy's reads for one caller."""

    @property
    def readmodels(self) -> ReadModels:
        """The read models (a 503 on a server that runs none)."""
        return get_readmodels(self.services)

    def _moment(self, at: ReadAt) -> int | None:
        return moment(self.services, self.readmodels, at)

    def _hidden(self) -> set[str]:
        return hidden_objectives(self.services, self.principal, self.readmodels)

    # ------------------------------------------------------------------ strategy

    def strategy(self, at: ReadAt = NOW) -> Json:
        """Mission, vision, values, perspectives and themes, the north star, the checks' levels
        (404 `strategy_not_found` before it is defined)."""
        found = self.readmodels.strategy.strategy(self._moment(at))
        if found is None:
            raise not_found("strategy", "of this organisation")
        return found

    def strategy_map(self, cycle_id: UUID, at: ReadAt = NOW) -> Json:
        """The cycle's objectives and the KPIs placed on the strategy's perspectives and
        themes, with their links and colours."""
        known_cycle(self.services, cycle_id, "cycle_id")
        data = self.readmodels.strategy.strategy_map(cycle_id, self._moment(at))
        hidden = self._hidden()
        if hidden:
            for row in data["rows"]:
                row["objectives"] = without_hidden(row["objectives"], hidden)
                for theme in row["themes"]:
                    theme["objective_ids"] = [o for o in theme["objective_ids"] if o not in hidden]
            data["unplaced"] = without_hidden(data["unplaced"], hidden)
            data["links"] = [
                link
                for link in data["links"]
                if link["source"] not in hidden and link["target"] not in hidden
            ]
        data["as_of"] = at.as_of.isoformat() if at.as_of else None
        if data.get("position") is None:
            data["position"] = positions.reflected()
        return data

    # ---------------------------------------------------------------------- KPIs

    def kpis(self, at: ReadAt = NOW, include_retired: bool = False) -> Json:
        """Every KPI, the north star first, with the key results that follow it."""
        position = self._moment(at)
        items = self.readmodels.strategy.kpis(position, include_retired)
        hidden = self._hidden()
        for item in items:
            item["key_results"] = without_hidden(item["key_results"], hidden)
        return {
            "items": items,
            "position": position if position is not None else positions.reflected(),
        }

    def kpi(self, kpi_id: UUID, at: ReadAt = NOW) -> Json:
        """One KPI: definition, thresholds, measurements, corrections, status, trend."""
        found = self.readmodels.strategy.kpi(kpi_id, self._moment(at))
        return self._one("kpi", kpi_id, found)

    # --------------------------------------------------------------- initiatives

    def initiatives(self, which: Initiatives = EVERY_INITIATIVE, at: ReadAt = NOW) -> Json:
        """Initiatives in launch order, with the key results they move."""
        items = self.readmodels.strategy.initiatives(which, self._moment(at))
        hidden = self._hidden()
        for item in items:
            item["key_results"] = without_hidden(item["key_results"], hidden)
        return {"items": [i for i in items if i["key_results"] or not hidden]}

    def initiative(self, initiative_id: UUID, at: ReadAt = NOW) -> Json:
        """One initiative: status, owner, notes and the key results it moves."""
        found = self.readmodels.strategy.initiative(initiative_id, self._moment(at))
        return self._one("initiative", initiative_id, found)

    def _one(self, kind: str, thing_id: UUID, found: Json | None) -> Json:
        """A KPI or initiative found (else a 404), without the key results the caller may not
        see."""
        if found is None:
            raise not_found(kind, thing_id)
        found["key_results"] = without_hidden(found["key_results"], self._hidden())
        return found

    # ------------------------------------------------------------ quality coach

    def lint_cycle(
        self,
        cycle_id: UUID,
        objective_id: UUID | None = None,
        at: ReadAt = NOW,
    ) -> Json:
        """The quality coach's findings on a cycle (or one objective of it)."""
        known_cycle(self.services, cycle_id, "cycle_id")
        if objective_id is not None:
            visible_objective(self.services, self.principal, objective_id)
        findings = self.readmodels.strategy.lint(cycle_id, objective_id, self._moment(at))
        return self._findings(cycle_id, objective_id, findings)

    def lint_draft(self, body: ss.LintDraft) -> Json:
        """What the coach would say about a draft among its cycle's objectives (writes
        nothing)."""
        known_cycle(self.services, body.cycle_id, "cycle_id")
        objective_id = body.objective_id or uuid4()
        spec = ObjectiveSpec(
            objective_id=objective_id,
            cycle_id=body.cycle_id,
            title=body.title,
            kind=body.kind.value,
            owner_team_id=body.owner_team_id,
            owner_person_id=body.owner_person_id
            if body.owner_person_id or body.owner_team_id
            else self.principal.person_id,
            parent_objective_id=body.parent_objective_id,
            key_results=tuple(
                KeyResultSpec(
                    kr.key_result_id or uuid4(),
                    kr.title,
                    kr.measure.value,
                    kr.baseline,
                    kr.target,
                    kr.unit,
                    kr.direction.value,
                )
                for kr in body.key_results
            ),
        )
        findings = self.readmodels.strategy.lint_specs([spec], objective_id)
        return self._findings(body.cycle_id, body.objective_id, findings)

    def _findings(self, cycle_id: UUID, objective_id: UUID | None, findings: list[Json]) -> Json:
        hidden = self._hidden()
        if hidden:
            findings = [
                f
                for f in findings
                if str(f.get("objective_id")) not in hidden
                and not ({str(r) for r in f.get("related", [])} & hidden)
            ]
        counts = dict(Counter(finding["check"] for finding in findings))
        return {
            "cycle_id": cycle_id,
            "objective_id": objective_id,
            "findings": findings,
            "counts": counts,
            "blocking": sum(1 for f in findings if f["level"] == "block"),
        }
