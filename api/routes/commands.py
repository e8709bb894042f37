"""One piece per shape of route, so that a route is a row of a table, not a function:

- `Command`: parse the path ids (and a body, query parameters, dependencies), call the use case
  with If-Match as the expected version, answer with the `ETag` (and `Location`);
- `Read`: one person, team or cycle from the event store; `Listing`: a page of them from the
  directory; `register_resource` puts a registry resource's routes together (create, list,
  read, change);
- `ModelRead`: a read from the read models (now, as of an instant or at a position), with
  `min_position` (read your writes) and its query parameters; parameters that travel together
  reach the use case as one object (`Gathered`: `AT`, `as_of` and `position` as one
  `api.deps.ReadAt`).

A route that does something else (a secret in the answer, an answer in another format) stays
written out in its module, or is built there with `add_route` and a `Route` (the webhooks' and
channels' reads, which differ only in their names: `api/routes/webhooks.py`).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, Protocol, TypeVar
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from api import schemas as s
from api.deps import (
    IfMatchDep,
    Instant,
    LedgerDep,
    MinPositionDep,
    PrincipalDep,
    ReadAt,
    ServicesDep,
    StorePositionDep,
    answer,
    etag,
)
from api.routes import (
    READ,
    AsOf,
    Limit,
    Offset,
    Position,
    StrategyReadsDep,
    directory_list,
    page,
    problems,
    read_from_store,
)
from domain.application import CommandResult, OkrLedger
from domain.base import OkrAggregate
from projections.directory import DirectoryState

_PATH_ID = re.compile(r"{(\w+)}")
_K = inspect.Parameter.KEYWORD_ONLY
M = TypeVar("M", bound=BaseModel)


class Described(Protocol):
    """What every route here has: its path, name (the operation's), summary and description."""

    @property
    def path(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def summary(self) -> str: ...
    @property
    def doc(self) -> str: ...


@dataclass(frozen=True)
class Route:
    """A route written out elsewhere: its path, name, summary and description (`add_route`)."""

    path: str
    name: str
    summary: str
    doc: str


@dataclass(frozen=True)
class Param:
    """A parameter more than the usual ones: a query parameter (with its default) narrowing a
    `Listing` or given to a `Command`, or a dependency a command's use case takes."""

    name: str
    annotation: Any
    default: Any = inspect.Parameter.empty

    def parameter(self) -> inspect.Parameter:
        return inspect.Parameter(self.name, _K, annotation=self.annotation, default=self.default)

    def parameters(self) -> list[inspect.Parameter]:
        return [self.parameter()]

    def value(self, values: dict[str, Any]) -> Any:
        return values[self.name]


@dataclass(frozen=True)
class Gathered:
    """Query parameters that travel as one object (`make(**their values)`): `AT`, a read's
    moment; `TRAIL`, the audit trail's filters. The route's query string is theirs, one by
    one, as if each were its own `Param`."""

    params: tuple[Param, ...]
    make: Callable[..., Any]

    def parameters(self) -> list[inspect.Parameter]:
        return [p.parameter() for p in self.params]

    def value(self, values: dict[str, Any]) -> Any:
        return self.make(**{p.name: values[p.name] for p in self.params})


@dataclass(frozen=True)
class Command:
    """A command route: `call(uses, *path_ids, [body], [expected])` answers its result."""

    method: str
    path: str
    name: str
    summary: str
    doc: str
    call: Callable[..., CommandResult]
    body: type[BaseModel] | None = None
    status_code: int = 200
    if_match: bool = True
    location: str | None = None
    """`Location`, formatted with the path ids and the result's `id`."""
    out: Answer[Any] | None = None
    """The answer's model when it is more than the result (naming a key result, a check-in)."""
    extras: tuple[Param, ...] = ()
    """Given to `call` after the body: query parameters, dependencies (e.g. the read models)."""
    types: tuple[tuple[str, Any], ...] = ()
    """Path ids that are not UUIDs, with their types."""


@dataclass(frozen=True)
class Answer(Generic[M]):
    """A command's answer model and how the result becomes it."""

    model: type[M]
    shape: Callable[[CommandResult, dict[str, Any]], M]
    """The answer from the result and the request's path ids."""


def creating(
    path: str,
    name: str,
    summary: str,
    doc: str,
    call: Callable[..., CommandResult],
    body: type[BaseModel],
) -> Command:
    """A POST to a collection making a resource: 201, no If-Match, `Location` its new path."""
    return Command(
        "POST",
        path,
        name,
        summary,
        doc,
        call,
        body,
        status_code=201,
        if_match=False,
        location=f"/api/v1{path}/{{id}}",
    )


def naming(model: type[M], field: str | None = None, *, echo: str | None = None) -> Answer[M]:
    """An answer that is the result plus the id of the part it touched: `result.extra_id` as
    `field`, and/or the path id `echo` (a key result the command was about)."""

    def shape(result: CommandResult, ids: dict[str, Any]) -> M:
        named = {}
        if field is not None:
            assert result.extra_id is not None
            named[field] = result.extra_id
        if echo is not None:
            named[echo] = ids[echo]
        return model(id=result.id, version=result.version, position=result.position, **named)

    return Answer(model, shape)


def register(
    router: APIRouter, uses: Any, responses: dict[int | str, Any], *commands: Command
) -> None:
    """Adds each command to `router`; `uses` is the use-case dependency (e.g. `ObjectivesDep`)."""
    for command in commands:
        ids = _PATH_ID.findall(command.path)
        types = dict(command.types)
        parameters = [inspect.Parameter(i, _K, annotation=types.get(i, UUID)) for i in ids]
        if command.body is not None:
            parameters.append(inspect.Parameter("body", _K, annotation=command.body))
        parameters.append(inspect.Parameter("uses", _K, annotation=uses))
        parameters.extend(extra.parameter() for extra in command.extras)
        if command.if_match:
            parameters.append(inspect.Parameter("expected", _K, annotation=IfMatchDep))
        parameters.append(inspect.Parameter("response", _K, annotation=Response))
        add_route(
            router,
            _endpoint(command, ids),
            parameters,
            method=command.method,
            route=command,
            out=command.out.model if command.out else s.CommandResultOut,
            responses=responses,
            status_code=command.status_code,
        )


def add_route(
    router: APIRouter,
    endpoint: Callable[..., Any],
    parameters: list[inspect.Parameter],
    *,
    method: str,
    route: Described,
    out: type[BaseModel],
    responses: dict[int | str, Any],
    status_code: int = 200,
) -> None:
    """Adds `endpoint` (taking `**values`) to `router` at `route.path`, as if it had been
    written with these parameters, `route.name` and `route.doc` as its docstring."""
    endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        parameters, return_annotation=out
    )
    endpoint.__name__ = endpoint.__qualname__ = route.name
    endpoint.__doc__ = route.doc
    router.add_api_route(
        route.path,
        endpoint,
        methods=[method],
        status_code=status_code,
        response_model=out,
        responses=responses,
        summary=route.summary,
        name=route.name,
    )


def _endpoint(command: Command, ids: list[str]) -> Callable[..., Any]:
    def endpoint(**values: Any) -> Any:
        args = [values[i] for i in ids]
        if command.body is not None:
            args.append(values["body"])
        args.extend(values[extra.name] for extra in command.extras)
        if command.if_match:
            args.append(values["expected"])
        result = command.call(values["uses"], *args)
        where = command.location.format(id=result.id, **values) if command.location else None
        answer(values["response"], result, location=where)
        return command.out.shape(result, values) if command.out else result

    return endpoint


@dataclass(frozen=True)
class Read:
    """A read of one aggregate from the event store: its `ETag` and `OKR-Position`, then
    `show(aggregate)`."""

    path: str
    name: str
    summary: str
    doc: str
    load: Callable[[OkrLedger, UUID], OkrAggregate]
    """Reads the aggregate through the ledger instance (a lambda, not `OkrLedger.get_x`: what
    the instance does, wrapped or replaced, is what the route does)."""
    show: Callable[[Any], BaseModel]
    out: type[BaseModel]

    @classmethod
    def one(
        cls, path: str, kind: str, doc: str, show: Callable[[Any], BaseModel], out: type[BaseModel]
    ) -> Read:
        """The read of one person, team or cycle (`kind`) at `path`: named `read_{kind}`,
        loaded by the ledger instance's `get_{kind}`."""
        return cls(
            path,
            f"read_{kind}",
            f"Read a {kind}",
            doc,
            lambda ledger, aggregate_id: getattr(ledger, f"get_{kind}")(aggregate_id),
            show,
            out,
        )


def register_read(router: APIRouter, read: Read) -> None:
    """Adds `read` (a GET whose only path id names the aggregate) to `router`."""
    (id_name,) = _PATH_ID.findall(read.path)

    def endpoint(**values: Any) -> Any:
        ledger: OkrLedger = values["ledger"]
        aggregate = read.load(ledger, values[id_name])
        read_from_store(values["response"], ledger, aggregate)
        return read.show(aggregate)

    add_route(
        router,
        endpoint,
        [
            inspect.Parameter(id_name, _K, annotation=UUID),
            inspect.Parameter("ledger", _K, annotation=LedgerDep),
            inspect.Parameter("_", _K, annotation=PrincipalDep),
            inspect.Parameter("__", _K, annotation=StorePositionDep),
            inspect.Parameter("response", _K, annotation=Response),
        ],
        method="GET",
        route=read,
        out=read.out,
        responses=problems(404),
    )


@dataclass(frozen=True)
class Listing:
    """A page of the directory's people, teams or cycles: those `keep(entry, **filters)` keeps,
    presented with their versions (`present`), in the directory's order or `order`'s."""

    path: str
    name: str
    summary: str
    doc: str
    entries: Callable[[DirectoryState], dict[UUID, Any]]
    present: Callable[[UUID, Any, int], Any]
    out: type[BaseModel]
    filters: tuple[Param, ...]
    keep: Callable[..., bool]
    order: Callable[[Any], Any] | None = None
    """A sort key, with the latest first."""


def register_list(router: APIRouter, listing: Listing) -> None:
    """Adds `listing` (a GET of the collection, with its filters, `limit` and `offset`)."""

    def endpoint(**values: Any) -> Any:
        filters = {f.name: values[f.name] for f in listing.filters}
        items = directory_list(
            values["services"],
            listing.entries,
            listing.present,
            lambda entry: listing.keep(entry, **filters),
        )
        if listing.order is not None:
            items.sort(key=listing.order, reverse=True)
        return listing.out(**page(items, values["limit"], values["offset"]))

    add_route(
        router,
        endpoint,
        [
            inspect.Parameter("services", _K, annotation=ServicesDep),
            inspect.Parameter("_", _K, annotation=PrincipalDep),
            inspect.Parameter("__", _K, annotation=StorePositionDep),
            *(f.parameter() for f in listing.filters),
            inspect.Parameter("limit", _K, annotation=Limit, default=100),
            inspect.Parameter("offset", _K, annotation=Offset, default=0),
        ],
        method="GET",
        route=listing,
        out=listing.out,
        responses=problems(),
    )


def query(
    name: str,
    annotation: Any,
    description: str,
    default: Any = inspect.Parameter.empty,
    **rules: Any,
) -> Param:
    """A described query parameter (`rules`: more of `Query`'s, e.g. `alias`, `max_length`)."""
    return Param(name, Annotated[annotation, Query(description=description, **rules)], default)


def id_filter(name: str, description: str) -> Param:
    """An optional id in the query string narrowing what is read (`cycle_id`, `team_id` ...)."""
    return query(name, UUID | None, description, None)


def moment(as_of_description: str | None = None) -> Gathered:
    """`as_of` and `position`, given to the read as one `ReadAt` (`as_of` described as
    `as_of_description` where the read says more than the usual)."""
    as_of = Param("as_of", AsOf, None)
    if as_of_description is not None:
        as_of = query("as_of", Instant | None, as_of_description, None)
    return Gathered((as_of, Param("position", Position, None)), ReadAt)


AT = moment()


@dataclass(frozen=True)
class ModelRead:
    """A read from the read models (objectives and their history, the strategy and its map,
    KPIs, initiatives, the coach's findings ...), now or as of an instant or position:
    `read(reads, *path_ids, *params)`. A read of one thing (`versioned`) answers its version as
    the `ETag`."""

    path: str
    name: str
    summary: str
    doc: str
    read: Callable[..., Any]
    out: type[BaseModel]
    params: tuple[Param | Gathered, ...] = (AT,)
    """The query parameters, in the order `read` takes them."""
    versioned: bool = True
    reads: Any = StrategyReadsDep
    """The reads' use cases (the strategy's, or the tree's and its history's)."""
    responses: dict[int | str, Any] | None = None
    """Its error answers (default: `READ`)."""


def register_model_read(router: APIRouter, *reads: ModelRead) -> None:
    """Adds each read (a GET taking `min_position` and `read.params`) to `router`."""
    for read in reads:
        add_route(
            router,
            _model_read(read),
            [
                *(inspect.Parameter(i, _K, annotation=UUID) for i in _PATH_ID.findall(read.path)),
                inspect.Parameter("reads", _K, annotation=read.reads),
                inspect.Parameter("_", _K, annotation=MinPositionDep),
                inspect.Parameter("response", _K, annotation=Response),
                *(one for p in read.params for one in p.parameters()),
            ],
            method="GET",
            route=read,
            out=read.out,
            responses=READ if read.responses is None else read.responses,
        )


def _model_read(read: ModelRead) -> Callable[..., Any]:
    ids = _PATH_ID.findall(read.path)

    def endpoint(**values: Any) -> Any:
        args = [values[i] for i in ids] + [p.value(values) for p in read.params]
        found = read.read(values["reads"], *args)
        if isinstance(found, bytes):  # JSON already rendered (the live tree, remembered)
            return Response(content=found, media_type="application/json")
        if read.versioned:
            values["response"].headers["ETag"] = etag(found["version"])
        return found

    return endpoint


def register_resource(
    router: APIRouter,
    uses: Any,
    *,
    create: Command,
    create_problems: dict[int | str, Any],
    listing: Listing,
    read: Read,
    changes: Sequence[Command],
    change_problems: dict[int | str, Any],
) -> None:
    """A registry resource's routes, in this order: create it, list them, read one, change one."""
    register(router, uses, create_problems, create)
    register_list(router, listing)
    register_read(router, read)
    register(router, uses, change_problems, *changes)
