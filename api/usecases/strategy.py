"""The strategy's use cases: the strategy itself, the north star, KPIs, initiatives, and where
objectives sit in the strategy (their theme, their key results' KPIs, check-ins from a KPI).

Who may do what is `api/strategy_policy.py` (over `api/policy.py`'s facts); If-Match is the
command's expected version.
"""

from __future__ import annotations

from uuid import UUID

from api import schemas as s
from api import strategy_policy
from api import strategy_schemas as ss
from api.deps import facts_of, visible_objective
from api.errors import ApiError, forbidden, not_found
from api.policy import ObjectiveFacts
from api.usecases import Caller, Command, UseCases, on_objective
from domain.application import CommandResult
from domain.errors import NotFound
from domain.initiative import KeyResultRef
from domain.strategy import STRATEGY_ID
from infra.readmodels import ReadModels

STRATEGY_STEWARDS = "only admins and managers change the strategy"
KPI_STEWARDS = "only admins and managers define KPIs and change their definition"
WORKERS = "only the objective's owners and the managers above them may do this"

works_on = on_objective(strategy_policy.may_work_on_objective, WORKERS)
"""Only those who work on the objective: its owners and the managers above them."""


class StrategyUseCases(UseCases):
    """The strategy's commands, for one caller."""

    # ----------------------------------------------------------------- strategy

    def _steward(self) -> None:
        if not strategy_policy.may_edit_strategy(self.principal):
            raise forbidden("not_allowed", STRATEGY_STEWARDS)

    def put_strategy(self, body: ss.StrategyPut, expected: int | None) -> CommandResult:
        self._steward()
        perspectives = (
            [(p.key, p.name) for p in body.perspectives] if body.perspectives is not None else None
        )
        return self._run(
            STRATEGY_ID,
            lambda ledger: ledger.put_strategy(
                self.ctx,
                mission=body.mission,
                vision=body.vision,
                values=body.values,
                themes=[t.model_dump(exclude_none=True) for t in body.themes],
                perspectives=perspectives,
                reason=body.reason,
                expected_version=expected,
            ),
        )

    def choose_north_star(self, body: ss.NorthStar) -> CommandResult:
        self._steward()
        return self._run(
            STRATEGY_ID,
            lambda ledger: ledger.choose_north_star(body.kpi_id, self.ctx, body.reason),
        )

    # -------------------------------------------------------- objectives in it

    @works_on
    def tag_objective(
        self, objective_id: UUID, body: ss.ObjectiveTheme, expected: int | None
    ) -> Command:
        return lambda ledger: ledger.tag_objective.expecting(expected)(
            objective_id, body.theme_id, self.ctx, body.reason
        )

    @works_on
    def link_kpi(
        self, objective_id: UUID, key_result_id: UUID, body: ss.KeyResultKpi, expected: int | None
    ) -> Command:
        return lambda ledger: ledger.link_key_result_to_kpi.expecting(expected)(
            objective_id, key_result_id, body.kpi_id, self.ctx
        )

    @works_on
    def check_in_from_kpi(
        self, objective_id: UUID, key_result_id: UUID, body: ss.KpiCheckIn, expected: int | None
    ) -> Command:
        return lambda ledger: ledger.check_in_from_kpi.expecting(expected)(
            objective_id, key_result_id, body.confidence, self.ctx, body.note
        )

    # ----------------------------------------------------------- quality coach

    def configure_quality_check(self, check: str, body: ss.QualityCheckLevel) -> CommandResult:
        if not strategy_policy.may_configure_quality(self.principal):
            raise forbidden("admin_only", "only admins set how strict the quality coach is")
        return self._run(
            None,
            lambda ledger: ledger.configure_quality_check(
                check, body.level.value, self.ctx, body.reason
            ),
        )

    # --------------------------------------------------------------------- KPIs

    def _kpi_steward(self) -> None:
        if not strategy_policy.may_change_kpi(self.principal):
            raise forbidden("not_allowed", KPI_STEWARDS)

    def define_kpi(self, body: ss.KpiCreate) -> CommandResult:
        if not strategy_policy.may_define_kpi(self.principal):
            raise forbidden("not_allowed", KPI_STEWARDS)
        return self._run(
            None,
            lambda ledger: ledger.define_kpi(
                name=body.name,
                unit=body.unit,
                direction=body.direction,
                owner_person_id=body.owner_person_id or self.principal.person_id,
                green=body.thresholds.green,
                amber=body.thresholds.amber,
                ctx=self.ctx,
                description=body.description,
                perspective=body.perspective,
                theme_id=body.theme_id,
                north_star=body.north_star,
            ),
        )

    def update_kpi(self, kpi_id: UUID, body: ss.KpiPatch, expected: int | None) -> CommandResult:
        self._kpi_steward()
        sent = body.model_fields_set
        return self._run(
            kpi_id,
            lambda ledger: ledger.update_kpi.expecting(expected)(
                kpi_id,
                self.ctx,
                name=body.name,
                description=body.description,
                owner_person_id=body.owner_person_id,
                retag=bool({"perspective", "theme_id"} & sent),
                perspective=body.perspective,
                theme_id=body.theme_id,
                reason=body.reason,
            ),
        )

    def change_thresholds(
        self, kpi_id: UUID, body: ss.ThresholdsChange, expected: int | None
    ) -> CommandResult:
        self._kpi_steward()
        return self._run(
            kpi_id,
            lambda ledger: ledger.change_kpi_thresholds.expecting(expected)(
                kpi_id, body.green, body.amber, body.reason, self.ctx
            ),
        )

    def retire_kpi(self, kpi_id: UUID, body: s.Reason, expected: int | None) -> CommandResult:
        self._kpi_steward()
        return self._run(
            kpi_id,
            lambda ledger: ledger.retire_kpi.expecting(expected)(kpi_id, body.reason, self.ctx),
        )

    def _measurer(self, kpi_id: UUID, command: Command) -> CommandResult:
        owner = self.services.ledger.get_kpi(kpi_id).owner_person_id
        if not strategy_policy.may_measure_kpi(self.principal, owner):
            raise forbidden(
                "not_allowed", "only the KPI's owner (or an admin) records measurements"
            )
        return self._run(kpi_id, command)

    def record_measurement(
        self, kpi_id: UUID, body: ss.MeasurementCreate, expected: int | None
    ) -> CommandResult:
        return self._measurer(
            kpi_id,
            lambda ledger: ledger.record_measurement.expecting(expected)(
                kpi_id, body.period, body.value, self.ctx, body.note
            ),
        )

    def correct_measurement(
        self,
        kpi_id: UUID,
        measurement_id: UUID,
        body: ss.MeasurementCorrection,
        expected: int | None,
    ) -> CommandResult:
        return self._measurer(
            kpi_id,
            lambda ledger: ledger.correct_measurement.expecting(expected)(
                kpi_id, measurement_id, body.value, body.reason, self.ctx, body.note
            ),
        )

    # -------------------------------------------------------------- initiatives

    def _ref(
        self, readmodels: ReadModels, kr_id: UUID, field: str
    ) -> tuple[KeyResultRef, ObjectiveFacts]:
        """The key result's objective (which the caller must be able to see)."""
        objective_id = readmodels.strategy.objective_of_key_result(kr_id)
        if objective_id is None:
            wait_for_head(self.caller, readmodels)
            objective_id = readmodels.strategy.objective_of_key_result(kr_id)
        if objective_id is None:
            raise not_found("key_result", kr_id, field)
        try:
            objective = visible_objective(self.services, self.principal, objective_id)
        except (NotFound, ApiError):
            raise not_found("key_result", kr_id, field) from None
        return KeyResultRef(objective_id, kr_id), facts_of(objective)

    def _may_update_initiative(self, initiative_id: UUID) -> None:
        initiative = self.services.ledger.get_initiative(initiative_id)
        facts = []
        for objective_id in dict.fromkeys(r.objective_id for r in initiative.key_results):
            try:
                facts.append(facts_of(self.services.ledger.get_objective(objective_id)))
            except NotFound:
                continue
        principal = self.principal
        if not self.services.directory.ask(
            lambda d: strategy_policy.may_update_initiative(
                d, principal, initiative.owner_person_id, facts
            )
        ):
            raise forbidden(
                "not_allowed",
                "only the initiative's owner, admins and the contributors of its objectives may "
                "change it",
            )

    def launch_initiative(self, body: ss.InitiativeCreate, readmodels: ReadModels) -> CommandResult:
        pairs = [self._ref(readmodels, k, "key_result_ids") for k in body.key_result_ids]
        principal = self.principal
        if not self.services.directory.ask(
            lambda d: strategy_policy.may_launch_initiative(d, principal, [f for _, f in pairs])
        ):
            raise forbidden(
                "not_allowed", "launch initiatives for key results of objectives you work on"
            )
        return self._run(
            None,
            lambda ledger: ledger.launch_initiative(
                title=body.title,
                owner_person_id=body.owner_person_id or principal.person_id,
                key_results=[r for r, _ in pairs],
                ctx=self.ctx,
                description=body.description,
            ),
        )

    def update_initiative(
        self, initiative_id: UUID, body: ss.InitiativePatch, expected: int | None
    ) -> CommandResult:
        self._may_update_initiative(initiative_id)
        return self._run(
            initiative_id,
            lambda ledger: ledger.update_initiative.expecting(expected)(
                initiative_id, self.ctx, **body.arguments()
            ),
        )

    def link_initiative(
        self,
        initiative_id: UUID,
        body: ss.InitiativeLink,
        readmodels: ReadModels,
        expected: int | None,
    ) -> CommandResult:
        self._may_update_initiative(initiative_id)
        ref, _ = self._ref(readmodels, body.key_result_id, "key_result_id")
        return self._run(
            initiative_id,
            lambda ledger: ledger.link_initiative.expecting(expected)(
                initiative_id, ref, self.ctx, body.reason
            ),
        )

    def unlink_initiative(
        self,
        initiative_id: UUID,
        key_result_id: UUID,
        body: s.OptionalComment,
        expected: int | None,
    ) -> CommandResult:
        self._may_update_initiative(initiative_id)
        initiative = self.services.ledger.get_initiative(initiative_id)
        ref = next((r for r in initiative.key_results if r.key_result_id == key_result_id), None)
        if ref is None:
            raise not_found("key_result", key_result_id, "key_result_id")
        return self._run(
            initiative_id,
            lambda ledger: ledger.unlink_initiative.expecting(expected)(
                initiative_id, ref, self.ctx, body.comment
            ),
        )


def wait_for_head(caller: Caller, readmodels: ReadModels) -> None:
    """Let the read models apply everything committed so far (504 when they cannot)."""
    services = caller.services
    head = services.ledger.recorder.max_notification_id() or 0
    if not readmodels.wait_for(head, services.wait_timeout):
        raise ApiError(504, "projection_lagging", "the read models have not caught up; retry")
