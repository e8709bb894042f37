"""Key results that follow a data source: attach, detach, read with its health, sync now.

Only the key result's owner or an admin attaches, detaches or syncs a source
(`policy.may_attach_source`); everyone who may see the objective reads it. A definition is
checked against the server's settings here, before the command runs: a connection or a secret
it names must be defined (`OKR_SOURCE_CONNECTIONS`, `OKR_SOURCE_SECRETS`), and its JMESPath
expression must compile; every other rule is the domain's (domain/source.py).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from api import policy, positions, strategy_policy
from api import source_schemas as src
from api.deps import authorize, visible_objective
from api.errors import ApiError, forbidden, invalid
from api.usecases import UseCases
from domain.application import CommandResult
from domain.source import SourceKind, describe, source_actor, validate_source
from infra.settings import Settings, get_settings
from infra.sources.fetch import check_expression, named
from infra.sources.sync import Health, SourceSync, SyncOutcome, source_sync_of

OWNERS = "only the key result's owner or an admin attaches, detaches or syncs its data source"
KPI_OWNERS = "only the KPI's owner or an admin attaches, detaches or syncs its data source"


class SourceUseCases(UseCases):
    def _settings(self) -> Settings:
        return self.services.settings or get_settings()

    def _sync(self) -> SourceSync:
        return source_sync_of(self.services.ledger, self._settings())

    def _check_against_settings(self, definition: dict[str, Any]) -> None:
        settings = self._settings()
        connection = definition.get("connection")
        known = named(settings.source_connections)
        if definition.get("kind") == SourceKind.SQL and connection not in (None, *known):
            raise invalid(
                "connection_unknown",
                f"no connection named '{connection}' is defined (OKR_SOURCE_CONNECTIONS)",
                "connection",
            )
        secrets = named(settings.source_secrets)
        for header, secret in (definition.get("headers") or {}).items():
            if secret not in secrets:
                raise invalid(
                    "secret_unknown",
                    f"no secret named '{secret}' is defined (OKR_SOURCE_SECRETS)",
                    f"headers.{header}",
                )
        expression = definition.get("expression")
        if definition.get("kind") == SourceKind.HTTP_JSON and expression:
            why = check_expression(str(expression))
            if why is not None:
                raise invalid(
                    "expression_invalid", f"expression is not valid JMESPath: {why}", "expression"
                )

    def attach(
        self, objective_id: UUID, key_result_id: UUID, body: src.SourceIn, expected: int | None
    ) -> CommandResult:
        definition = body.definition()

        def attach(ledger: Any) -> CommandResult:
            self._check_against_settings(validate_source(definition))
            result: CommandResult = ledger.attach_source.expecting(expected)(
                objective_id, key_result_id, definition, body.reason, self.ctx
            )
            return result

        return self._on_objective(objective_id, policy.may_attach_source, OWNERS, attach)

    def detach(
        self, objective_id: UUID, key_result_id: UUID, reason: str, expected: int | None
    ) -> CommandResult:
        return self._on_objective(
            objective_id,
            policy.may_attach_source,
            OWNERS,
            lambda ledger: ledger.detach_source.expecting(expected)(
                objective_id, key_result_id, reason, self.ctx
            ),
        )

    # ------------------------------------------------------------------- KPIs

    def _kpi_owner(self, kpi_id: UUID) -> None:
        owner = self.services.ledger.get_kpi(kpi_id).owner_person_id
        if not strategy_policy.may_measure_kpi(self.principal, owner):
            raise forbidden("not_allowed", KPI_OWNERS)

    def attach_to_kpi(
        self, kpi_id: UUID, body: src.SourceIn, expected: int | None
    ) -> CommandResult:
        self._kpi_owner(kpi_id)
        definition = validate_source(body.definition())
        self._check_against_settings(definition)
        return self._run(
            kpi_id,
            lambda ledger: ledger.attach_kpi_source.expecting(expected)(
                kpi_id, definition, body.reason, self.ctx
            ),
        )

    def detach_from_kpi(self, kpi_id: UUID, reason: str, expected: int | None) -> CommandResult:
        self._kpi_owner(kpi_id)
        return self._run(
            kpi_id,
            lambda ledger: ledger.detach_kpi_source.expecting(expected)(kpi_id, reason, self.ctx),
        )

    def read_kpi(self, kpi_id: UUID) -> src.KpiSourceOut:
        kpi = self.services.ledger.get_kpi(kpi_id)
        if kpi.source_id is None or kpi.source is None:
            raise ApiError(404, "no_source", f"KPI '{kpi.name}' follows no data source")
        positions.saw_aggregate(self.services.ledger, kpi.id, kpi.version)
        return src.KpiSourceOut(kpi_id=kpi.id, **self._source(kpi.source_id, kpi.source))

    def sync_kpi_now(self, kpi_id: UUID) -> src.SyncOut:
        """As `sync_now`, for a KPI: the value measures the day of the fetch."""
        self._kpi_owner(kpi_id)
        return _answer(self._sync().sync_kpi_now(kpi_id))

    # ------------------------------------------------------------------ reads

    def _source(self, source_id: UUID, definition: dict[str, Any]) -> dict[str, Any]:
        """What a key result's or KPI's source answer says of the source itself."""
        return {
            "source_id": source_id,
            "actor": source_actor(source_id),
            "definition": definition,
            "description": describe(definition),
            "health": self._health(source_id),
        }

    def _health(self, source_id: UUID) -> src.SourceHealthOut:
        state = self._sync().states([source_id]).get(source_id)
        if state is None:
            return src.SourceHealthOut(health=Health.NEVER)
        return src.SourceHealthOut(**state.as_json())

    def read(self, objective_id: UUID, key_result_id: UUID) -> src.SourceOut:
        objective = visible_objective(self.services, self.principal, objective_id)
        kr = objective.key_result(key_result_id, live=False)
        if kr.source_id is None or kr.source is None:
            raise ApiError(
                404, "no_source", f"key result '{kr.title}' follows no data source", "key_result_id"
            )
        positions.saw_aggregate(self.services.ledger, objective.id, objective.version)
        return src.SourceOut(
            objective_id=objective_id, key_result_id=kr.id, **self._source(kr.source_id, kr.source)
        )

    def sync_now(self, objective_id: UUID, key_result_id: UUID) -> src.SyncOut:
        """Fetch now: 200 with what was written (nothing when unchanged), 409 when the key
        result takes no check-in now (health `waiting`), 502 when the fetch failed (health
        `failing`, the rule named: `source_timeout`, `source_http_status` …)."""
        objective = visible_objective(self.services, self.principal, objective_id)
        authorize(self.services, self.principal, objective, policy.may_attach_source, OWNERS)
        return _answer(self._sync().sync_now(objective_id, key_result_id))


def _answer(outcome: SyncOutcome) -> src.SyncOut:
    """200 with what was written; 502 for a failed fetch, 409 for a value refused now."""
    if outcome.health == Health.FAILING:
        raise ApiError(502, outcome.rule or "source_failed", outcome.error or "the fetch failed")
    if outcome.health == Health.WAITING:
        raise ApiError(409, outcome.rule or "not_trackable", outcome.error or "")
    result = outcome.result
    return src.SyncOut(
        source_id=outcome.source_id,
        health="ok",
        value=outcome.value,
        written=result is not None,
        written_id=result.extra_id if result else None,
        position=result.position if result else None,
    )
