"""One piece for every command route of the same shape: parse the path ids (and a body), call
the use case with If-Match as the expected version, answer with the `ETag` (and `Location`).
And one for every read of a single person, team or cycle from the event store (`Read`).

A route that does something else (a query parameter, an optional body, a secret in the answer)
stays written out in its module; this serves only the routes that are exactly this.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from uuid import UUID

from fastapi import APIRouter, Response
from pydantic import BaseModel

from api import schemas as s
from api.deps import IfMatchDep, LedgerDep, PrincipalDep, StorePositionDep, answer
from api.routes import problems, read_from_store
from domain.application import CommandResult, OkrLedger
from domain.base import OkrAggregate

_PATH_ID = re.compile(r"{(\w+)}")
_P = inspect.Parameter.POSITIONAL_OR_KEYWORD
M = TypeVar("M", bound=BaseModel)


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


@dataclass(frozen=True)
class Answer(Generic[M]):
    """A command's answer model and how the result becomes it."""

    model: type[M]
    shape: Callable[[CommandResult], M]


def naming(model: type[M], field: str) -> Answer[M]:
    """An answer that is the result plus the id of the part it touched (`result.extra_id`)."""

    def shape(result: CommandResult) -> M:
        assert result.extra_id is not None
        return model(
            id=result.id,
            version=result.version,
            position=result.position,
            **{field: result.extra_id},
        )

    return Answer(model, shape)


def register(
    router: APIRouter, uses: Any, responses: dict[int | str, Any], *commands: Command
) -> None:
    """Adds each command to `router`; `uses` is the use-case dependency (e.g. `ObjectivesDep`)."""
    for command in commands:
        router.add_api_route(
            command.path,
            _endpoint(command, uses),
            methods=[command.method],
            status_code=command.status_code,
            response_model=command.out.model if command.out else s.CommandResultOut,
            responses=responses,
            summary=command.summary,
            name=command.name,
        )


def _endpoint(command: Command, uses: Any) -> Callable[..., Any]:
    ids = _PATH_ID.findall(command.path)

    def endpoint(**values: Any) -> Any:
        args = [values[i] for i in ids]
        if command.body is not None:
            args.append(values["body"])
        if command.if_match:
            args.append(values["expected"])
        result = command.call(values["uses"], *args)
        where = command.location.format(id=result.id, **values) if command.location else None
        answer(values["response"], result, location=where)
        return command.out.shape(result) if command.out else result

    parameters = [inspect.Parameter(i, _P, annotation=UUID) for i in ids]
    if command.body is not None:
        parameters.append(inspect.Parameter("body", _P, annotation=command.body))
    parameters.append(inspect.Parameter("uses", _P, annotation=uses))
    if command.if_match:
        parameters.append(inspect.Parameter("expected", _P, annotation=IfMatchDep))
    parameters.append(inspect.Parameter("response", _P, annotation=Response))
    endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        parameters, return_annotation=command.out.model if command.out else CommandResult
    )
    endpoint.__name__ = endpoint.__qualname__ = command.name
    endpoint.__doc__ = command.doc
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


def register_read(router: APIRouter, read: Read) -> None:
    """Adds `read` (a GET whose only path id names the aggregate) to `router`."""
    (id_name,) = _PATH_ID.findall(read.path)

    def endpoint(**values: Any) -> Any:
        ledger: OkrLedger = values["ledger"]
        aggregate = read.load(ledger, values[id_name])
        read_from_store(values["response"], ledger, aggregate)
        return read.show(aggregate)

    endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(id_name, _P, annotation=UUID),
            inspect.Parameter("ledger", _P, annotation=LedgerDep),
            inspect.Parameter("_", _P, annotation=PrincipalDep),
            inspect.Parameter("__", _P, annotation=StorePositionDep),
            inspect.Parameter("response", _P, annotation=Response),
        ],
        return_annotation=read.out,
    )
    endpoint.__name__ = endpoint.__qualname__ = read.name
    endpoint.__doc__ = read.doc
    router.add_api_route(
        read.path,
        endpoint,
        methods=["GET"],
        response_model=read.out,
        responses=problems(404),
        summary=read.summary,
        name=read.name,
    )
