"""What the catalogue tests hold every fold to: it handles or ignores each catalogued event, and
its code matches the fingerprint recorded for its version.

- `gaps(fold)`: catalogued events the fold neither handles nor explicitly ignores (in its
  `ignores`, or in the entry's `ignored_by`), events it both handles and ignores, and aggregates it ignores wholesale while handling some of their
  events. Empty for a fold that accounts for every event.
- `fingerprint(fold)`: a hash of the code that makes the fold's state: its reactions (event
  class → handler) and what they call in `projections`, its ignores, the fold class itself and
  the fingerprints of the folds it reads. Comments, docstrings and formatting do not count.
  The tests compare it with the fingerprint recorded for the fold's current version
  (tests/unit/projections/fold_fingerprints.json): a fold whose handlers changed must either
  bump its version (its stored views are rebuilt on upgrade) or, if its rows do not change,
  record the new fingerprint under the same version, on purpose.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import inspect
import textwrap
from collections.abc import Callable, Iterable
from types import CodeType, FunctionType
from typing import Any

from domain.base import OkrAggregate
from projections.base import DataclassFold, KindTest
from projections.catalogue import CATALOGUE, Catalogue
from projections.entries import type_name


def handled(fold: DataclassFold[Any]) -> set[type[Any]]:
    """The event classes the fold reacts to, itself or through a fold it reads."""
    found = set(fold.reactions())
    for read in fold.reads:
        found |= handled(read())
    return found


def gaps(fold: DataclassFold[Any], catalogue: Catalogue = CATALOGUE) -> list[str]:
    """What is wrong with the fold's account of the catalogued events, one sentence each."""
    handles = handled(fold)
    ignored_events = {c for c in fold.ignores if not issubclass(c, OkrAggregate)}
    ignored_aggregates = {c for c in fold.ignores if issubclass(c, OkrAggregate)}
    problems: list[str] = []
    for entry in catalogue:
        cls = entry.event_class
        ignored = (
            cls in ignored_events
            or entry.aggregate in ignored_aggregates
            or fold.name in entry.ignored_by
        )
        if cls in handles and ignored:
            problems.append(f"{fold.name}: {entry.type_name} is both handled and ignored")
        elif cls not in handles and not ignored:
            problems.append(
                f"{fold.name}: {entry.type_name} is neither handled nor ignored"
                f" (add a handler, or list it in {type(fold).__name__}.ignores)"
            )
    for aggregate in sorted(ignored_aggregates, key=lambda a: a.__name__):
        partly = sorted(e.type_name for e in catalogue.of(aggregate) if e.event_class in handles)
        if partly:
            problems.append(
                f"{fold.name}: ignores {aggregate.__name__} wholesale but handles"
                f" {', '.join(partly)}: list the events it ignores one by one"
            )
    for cls in sorted(handles | ignored_events, key=type_name):
        if not catalogue.has(cls):
            problems.append(f"{fold.name}: {type_name(cls)} is not in the event catalogue")
    return problems


def fingerprint(fold: DataclassFold[Any]) -> str:
    """A hash of the code that makes the fold's state (see the module's docstring)."""
    digest = hashlib.sha256()
    seen: set[int] = set()

    def add(text: str) -> None:
        digest.update(text.encode())
        digest.update(b"\0")

    add(f"fold {fold.name}")
    for cls, reaction in sorted(fold.reactions().items(), key=lambda item: type_name(item[0])):
        add(f"on {type_name(cls)}")
        for text in _code_of(reaction, seen):
            add(text)
    for cls in sorted(fold.ignores, key=type_name):
        add(f"ignores {type_name(cls)}")
    for text in _code_of(type(fold), seen):
        add(text)
    for read in sorted(fold.reads, key=lambda f: f.name):
        add(f"reads {read.name} {fingerprint(read())}")
    return digest.hexdigest()


def _code_of(value: Any, seen: set[int]) -> Iterable[str]:
    """Normalised source of `value` and of what it uses from `projections`, each once."""
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, DataclassFold):
        yield f"fold {value.name} {fingerprint(value)}"
        return
    if isinstance(value, KindTest):
        value = value.classes
    if isinstance(value, tuple | frozenset) and value and all(isinstance(v, type) for v in value):
        yield "kinds " + " ".join(sorted(type_name(v) for v in value))
        return
    if not _ours(value):
        return
    yield _normalised(value)
    if isinstance(value, FunctionType):
        for cell in value.__closure__ or ():
            contents = cell.cell_contents
            if isinstance(contents, str | int | float | bool | tuple | frozenset):
                yield repr(contents)
            else:
                yield from _code_of(contents, seen)
        for name in sorted(_names(value.__code__)):
            if name in value.__globals__:
                yield from _code_of(value.__globals__[name], seen)
    elif isinstance(value, type):
        for member in vars(value).values():
            function = member.__func__ if isinstance(member, classmethod | staticmethod) else member
            if isinstance(function, FunctionType):
                for name in sorted(_names(function.__code__)):
                    if name in function.__globals__:
                        yield from _code_of(function.__globals__[name], seen)


def _ours(value: Any) -> bool:
    return (
        isinstance(value, FunctionType | type)
        and getattr(value, "__module__", "").startswith("projections.")
        and getattr(value, "__module__", "") != __name__
    )


def _names(code: CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, CodeType):
            names |= _names(const)
    return names


@functools.cache
def _normalised(value: Callable[..., Any] | type) -> str:
    """The source without comments, docstrings or formatting."""
    source = textwrap.dedent(inspect.getsource(value))
    try:
        tree = ast.parse(source)
    except SyntaxError:  # a lambda's line
        return source.strip()
    # Docstrings, and the strings after attributes that document them, are not code.
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list):
            body[:] = [
                s
                for s in body
                if not (
                    isinstance(s, ast.Expr)
                    and isinstance(s.value, ast.Constant)
                    and isinstance(s.value.value, str)
                )
            ] or [ast.Pass()]
    return ast.unparse(tree)
