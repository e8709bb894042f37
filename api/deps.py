"""Typed dependencies of the routes: services, the caller, preconditions, read positions.

Routes are plain (synchronous) functions that FastAPI runs in its thread pool; everything
they need arrives through the `Annotated[..., Depends(...)]` aliases defined here. A dependency
that only looks at memory is an `async def`, run on the event loop: a plain one costs a hop to
the thread pool and back, which under concurrent requests is latency every answer waits for.
Those that may touch the database (the caller's token, waiting for a position) stay plain.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

import anyio.to_thread
from cachetools import LRUCache, TTLCache
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from fastapi import Depends, Header, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

from api import policy
from api.directory import LogDirectory, request_began
from api.errors import ApiError, forbidden, invalid, not_found, unauthorized
from api.policy import ObjectiveFacts, Principal
from domain.access import Role, token_id_for
from domain.application import CommandResult, OkrLedger
from domain.base import CommandContext
from domain.errors import RuleViolated
from domain.objective import Objective
from infra.readmodels import ReadModels
from infra.settings import Settings
from infra.token_use import note_use
from projections.directory import DirectoryState

if TYPE_CHECKING:
    from infra.idempotency import IdempotencyStore


class TreeCache:
    """Tree answers as the bytes sent, by (cycle, team, the views' position and generation,
    the viewer): a repeated read of an unchanged tree is a dictionary lookup.

    The viewer part is "all" for those who read everything, else the person, role and the
    directory position their private objectives were filtered at: nobody is ever sent a tree
    filtered for someone else.
    """

    def __init__(self, size: int) -> None:
        self._bodies: LRUCache[Hashable, bytes] | None = LRUCache(size) if size > 0 else None
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> bytes | None:
        if self._bodies is None:
            return None
        with self._lock:
            return self._bodies.get(key)

    def put(self, key: Hashable, body: bytes) -> None:
        if self._bodies is not None:
            with self._lock:
                self._bodies[key] = body


@dataclass
class Services:
    """Everything the routes use, built once by `create_app`."""

    ledger: OkrLedger
    directory: LogDirectory
    readmodels: ReadModels | None
    """The live read models, or None when this process runs none (queries then answer 503)."""
    idempotency: IdempotencyStore | None
    wait_timeout: float
    """How long a read waits for `min_position` before answering 504."""
    ready_max_lag: int
    """How many events the projections may trail the log by for /ready to answer 200."""
    settings: Settings | None = None
    """The settings the app was built with (None: the environment's, via get_settings)."""
    principals: Principals | None = None
    """Remembered token holders (None: every request reads its token from the store)."""
    trees: TreeCache = field(default_factory=lambda: TreeCache(0))
    """Rendered live trees (size 0: none remembered)."""


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_ledger(services: ServicesDep) -> OkrLedger:
    return services.ledger


LedgerDep = Annotated[OkrLedger, Depends(get_ledger)]


def get_readmodels(services: Services) -> ReadModels:
    if services.readmodels is None:
        raise ApiError(
            503,
            "projections_unavailable",
            "this server runs no read models; start it with `okr serve`",
        )
    return services.readmodels


async def _readmodels(services: ServicesDep) -> ReadModels:
    return get_readmodels(services)


ReadModelsDep = Annotated[ReadModels, Depends(_readmodels)]


# ---------------------------------------------------------------- the caller

bearer = HTTPBearer(
    auto_error=False,
    bearerFormat="okr_…",
    description="A token from `okr token create` or `POST /api/v1/tokens`.",
)


def authenticate(ledger: OkrLedger, secret: str) -> Principal | None:
    token = ledger.authenticate(secret)
    if token is None:
        return None
    return Principal(
        person_id=token.person_id,
        role=ledger.role_of(token),
        token_id=token.id,
        read_only=token.read_only,
        expires_at=token.expires_at,
    )


class Principals:
    """Tokens this process authenticated lately, so a request need not read the token and
    its person from the event store again.

    A remembered principal is still checked on every request against the directory, which
    follows the log (api/directory.py): a token revoked or a person deactivated by any
    process is refused at once, and the role is the person's role there, so a role changed by
    any process applies at once. A token's person never changes, so `seconds` bounds only how
    long an idle entry stays in memory.
    """

    def __init__(self, ledger: OkrLedger, directory: LogDirectory, seconds: float) -> None:
        self._ledger = ledger
        self._directory = directory
        self._known: TTLCache[UUID, Principal] | None = (
            TTLCache(maxsize=4096, ttl=seconds) if seconds > 0 else None
        )
        self._lock = threading.Lock()

    def authenticate(self, secret: str) -> Principal | None:
        if self._known is None:
            return authenticate(self._ledger, secret)
        token_id = token_id_for(secret)
        with self._lock:
            known = self._known.get(token_id)
        if known is not None:
            try:
                with self._directory.current() as directory:
                    person = directory.people.get(known.person_id)
                    live = person is not None and person.active
                    if person is not None and person.role and person.role != known.role:
                        known = replace(known, role=Role(person.role))
                    revoked = self._directory.revoked(token_id)
            except Exception:  # e.g. events rewritten behind the chain's back
                # The directory cannot fold the log: authenticate from the event store, as
                # without the cache, so /audit/verify can still report what happened.
                live = revoked = False
            expired = known.expires_at is not None and known.expires_at <= datetime.now(UTC)
            if revoked or expired or not live:
                with self._lock:
                    self._known.pop(token_id, None)
            if revoked or expired:
                return None
            if live:
                return known
        principal = authenticate(self._ledger, secret)
        if principal is not None:
            with self._lock:
                self._known[token_id] = principal
        return principal


def get_principal(
    request: Request,
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    known = getattr(request.state, "principal", None)
    if isinstance(known, Principal):
        return known
    if credentials is None:
        raise unauthorized("token_missing", "send a bearer token: Authorization: Bearer okr_…")
    if services.principals is not None:
        principal = services.principals.authenticate(credentials.credentials)
    else:
        principal = authenticate(services.ledger, credentials.credentials)
    if principal is None:
        raise unauthorized(
            "token_invalid", "the token is unknown, revoked, or its person is inactive"
        )
    if request.method not in ("GET", "HEAD", "OPTIONS") and not policy.may_write(principal):
        raise forbidden("token_read_only", "this personal access token may only read")
    request.state.principal = principal
    note_use(services.ledger.recorder, principal.token_id)
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def context_of(request: Request, principal: Principal) -> CommandContext:
    """The command context: the actor is always the token's person, never a body field."""
    return CommandContext(actor=principal.actor, request_id=request.state.request_id)


def require_admin(principal: Principal) -> Principal:
    if not policy.may_administer(principal):
        raise forbidden("admin_only", "only admins manage people, teams, cycles and tokens")
    return principal


async def _admin(principal: PrincipalDep) -> Principal:
    return require_admin(principal)


AdminDep = Annotated[Principal, Depends(_admin)]


async def _audit_reader(principal: PrincipalDep) -> Principal:
    if not policy.may_read_audit(principal):
        raise forbidden("auditors_only", "the audit trail is for auditors and admins")
    return principal


AuditReaderDep = Annotated[Principal, Depends(_audit_reader)]


# ------------------------------------------------------------- preconditions

_ETAG = re.compile(r'^\s*(?:W/)?"?(\d{1,18})"?\s*$')


async def get_if_match(
    if_match: Annotated[
        str | None,
        Header(
            alias="If-Match",
            description='The version (ETag) the change is based on, e.g. `"3"`: a stale one '
            "answers 412. `*` or no header: no check.",
        ),
    ] = None,
) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    match = _ETAG.match(if_match)
    if match is None:
        raise ApiError(
            422,
            "etag_invalid",
            'If-Match takes one ETag as sent by this API, e.g. "3"',
            "If-Match",
        )
    return int(match.group(1))


IfMatchDep = Annotated[int | None, Depends(get_if_match)]


def etag(version: int) -> str:
    return f'"{version}"'


def check_version(current: int, expected: int | None) -> None:
    """If-Match for aggregates whose commands take no expected version: checked just before."""
    if expected is not None and current != expected:
        raise ApiError(
            412,
            "version_mismatch",
            f"expected version {expected}, current version is {current}",
            "If-Match",
            current_version=current,
        )


def current_version(ledger: OkrLedger, aggregate_id: UUID) -> int | None:
    try:
        return int(ledger.repository.get(aggregate_id).version)
    except AggregateNotFoundError:
        return None


def execute(
    ledger: OkrLedger, aggregate_id: UUID | None, command: Callable[[], CommandResult]
) -> CommandResult:
    """Run a command; a lost race or a stale If-Match answers with the current version."""
    try:
        return command()
    except IntegrityError:
        raise ApiError(
            409,
            "concurrent_write",
            "another request changed this aggregate at the same time; read it again and retry",
            current_version=current_version(ledger, aggregate_id) if aggregate_id else None,
        ) from None
    except RuleViolated as error:
        if error.rule != "version_mismatch" or aggregate_id is None:
            raise
        raise ApiError(
            412,
            "version_mismatch",
            error.message,
            "If-Match",
            current_version=current_version(ledger, aggregate_id),
        ) from None
    finally:
        # What the request reads of the directory from now on must include its own write.
        request_began.set(time.monotonic())


def answer(
    response: Response, result: CommandResult, *, location: str | None = None
) -> CommandResult:
    response.headers["ETag"] = etag(result.version)
    if location is not None:
        response.headers["Location"] = location
    return result


# ------------------------------------------------------------- objectives


def facts_of(objective: Objective) -> ObjectiveFacts:
    """The objective's attributes of the facts' names."""
    return ObjectiveFacts(**{f.name: getattr(objective, f.name) for f in fields(ObjectiveFacts)})


def visible_objective(
    services: Services, principal: Principal, objective_id: UUID, version: int | None = None
) -> Objective:
    """The objective, if the caller may see it; a private one they may not see is a 404."""
    objective = services.ledger.get_objective(objective_id, version)
    facts = facts_of(objective)
    if not services.directory.ask(lambda d: policy.may_view(d, principal, facts)):
        raise not_found("objective", objective_id)
    return objective


def authorize(
    services: Services,
    principal: Principal,
    objective: Objective,
    rule: Callable[[DirectoryState, Principal, ObjectiveFacts], bool],
    message: str,
) -> None:
    facts = facts_of(objective)
    if not services.directory.ask(lambda d: rule(d, principal, facts)):
        raise forbidden("not_allowed", message)


# ------------------------------------------------------------------- reads

_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
)


def parse_rfc3339(value: object) -> object:
    """An RFC 3339 instant (with its offset), else a 422 naming the field."""
    if isinstance(value, datetime):
        return value
    text = str(value)
    if not _RFC3339.match(text):
        raise PydanticCustomError(
            "rfc3339",
            "must be an RFC 3339 instant with an offset, e.g. 2026-02-15T12:00:00Z",
        )
    # Python parses at most 6 fractional digits; RFC 3339 allows more.
    head, dot, rest = text.partition(".")
    if dot:
        digits = re.match(r"\d+", rest)
        assert digits is not None
        text = f"{head}.{digits.group()[:6].ljust(6, '0')}{rest[len(digits.group()) :]}"
    try:
        return datetime.fromisoformat(text.replace("z", "Z").replace("t", "T"))
    except ValueError:
        raise PydanticCustomError("rfc3339", "not a valid date and time") from None


Instant = Annotated[datetime, BeforeValidator(parse_rfc3339)]
"""A query parameter taking an RFC 3339 instant; anything else is a 422 with rule `rfc3339`."""


def log_position(description: str) -> Any:
    """A query parameter taking a log position (a notification id)."""
    return Query(ge=0, le=2**62, description=description)


async def wait_for_position(
    services: ServicesDep,
    min_position: Annotated[
        int | None,
        log_position(
            "Read your writes: wait until the read models have applied this log position (a "
            "command's `position`); 504 `projection_lagging` if they do not within the server's "
            "wait bound, 422 `position_beyond_log` if the log is shorter."
        ),
    ] = None,
) -> int | None:
    if min_position is None or services.readmodels is None:
        return min_position
    return await anyio.to_thread.run_sync(_wait_for, services, min_position)


def _wait_for(services: Services, min_position: int) -> int:
    """Wait (in the thread pool: the views' position is a database read) for `min_position`."""
    assert services.readmodels is not None
    if services.readmodels.caught_up_position() >= min_position:
        return min_position
    head = services.ledger.recorder.max_notification_id() or 0
    if min_position > head:
        raise ApiError(
            422,
            "position_beyond_log",
            f"the log ends at position {head}; min_position takes a command's position",
            "min_position",
        )
    if not services.readmodels.wait_for(min_position, services.wait_timeout):
        raise ApiError(
            504,
            "projection_lagging",
            f"the read models did not reach position {min_position} within "
            f"{services.wait_timeout:g} s; retry",
            "min_position",
            headers={"Retry-After": "1"},
        )
    return min_position


MinPositionDep = Annotated[int | None, Depends(wait_for_position)]


async def accept_position(
    min_position: Annotated[
        int | None,
        log_position(
            "Accepted for uniformity: this read comes straight from the event store, so it "
            "always includes every committed write."
        ),
    ] = None,
) -> int | None:
    return min_position


StorePositionDep = Annotated[int | None, Depends(accept_position)]


# ------------------------------------------------------- what a read is asked


@dataclass(frozen=True)
class ReadAt:
    """When a read answers: now (neither given), as of an instant, or at a log position.

    One object from the route (its `as_of` and `position` query parameters, gathered by
    `api/routes/commands.py` `AT`) or the page (its fields) through the use case, which turns
    it into the log position the read models answer at."""

    as_of: datetime | None = None
    position: int | None = None

    def either(self, field: str = "position") -> ReadAt:
        """Itself, unless it names both an instant and a position (a 422 naming `field`)."""
        if self.as_of is not None and self.position is not None:
            raise invalid("as_of_or_position", "give as_of or position, not both", field)
        return self


NOW = ReadAt()
"""A read of the live views."""


@dataclass(frozen=True)
class Span:
    """Two moments a read compares (the diff's `from` or `from_position`, `to` or
    `to_position`), the later one now unless given."""

    since: ReadAt
    until: ReadAt = NOW
