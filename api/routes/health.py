"""Liveness and readiness: no token needed."""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from eventsourcing.persistence import PersistenceError
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api import schemas as s
from api.deps import ServicesDep
from infra import answer
from infra.settings import get_settings

health = APIRouter(tags=["health"])
log = logging.getLogger("okrledger.api")


@health.get("/health", response_model=s.HealthOut, summary="Liveness")
def alive() -> s.HealthOut:
    """The process answers. Says nothing about the database (see /ready)."""
    return s.HealthOut(status="ok")


@health.get(
    "/ready",
    response_model=s.Ready,
    responses={503: {"model": s.Ready, "description": "Not ready: see the fields."}},
    summary="Readiness",
)
def ready(services: ServicesDep) -> JSONResponse:
    """Ready when the event store answers and the live projections trail its last position
    by at most `max_lag` events (whoever keeps them: this process's runner or Kafka projection
    workers). 503 otherwise, with the same body. With Kafka on, `kafka` reports the relay's and
    the workers' lag, read from PostgreSQL only."""
    try:
        head = services.ledger.recorder.max_notification_id()
        database = True
    except PersistenceError:
        head, database = None, False
    projections: int | None = None
    lag: int | None = None
    if services.readmodels is not None and database:
        services.readmodels.wait_for(head or 0, 0.0)  # a look, not a wait: lets them catch up
        projections = services.readmodels.caught_up_position()
        lag = max(0, (head or 0) - (projections or 0))
    ok = database and (lag is None or lag <= services.ready_max_lag)
    if head is not None:
        answer.saw(head)  # the log's end as it was read
    body = s.Ready(
        status="ready" if ok else "not_ready",
        database=database,
        log_position=head,
        projections_position=projections,
        lag=lag,
        max_lag=services.ready_max_lag,
        kafka=_kafka(services) if database else None,
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if ok else 503)


def _kafka(services: Any) -> dict[str, Any] | None:
    settings = services.settings or get_settings()
    if not settings.kafka_bootstrap:
        return None
    from infra.kafka.service import kafka_readiness

    try:
        return kafka_readiness(services.ledger, settings)
    except (
        PersistenceError,
        psycopg.Error,
        TypeError,
    ) as error:  # TypeError: not a PostgreSQL event store
        log.warning("cannot read the Kafka lag: %s", error)
        return None
