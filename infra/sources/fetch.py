"""Fetching one number from a data source: a SQL query, an HTTP JSON endpoint, a CSV file.

Every failure is a `SourceFailure` naming a rule (`source_timeout`, `source_http_status`,
`source_not_a_number`, `source_sql_error` …) and a message safe to show the key result's
owner: connection URLs and secrets are never part of it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import ipaddress
import json
import math
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import httpx
import jmespath
import psycopg
from jmespath.exceptions import JMESPathError
from psycopg import sql

from domain.source import SourceKind
from infra.settings import Settings


class SourceFailure(Exception):
    """A fetch that gave no number: the rule it broke and what to tell the owner."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


@dataclass(frozen=True)
class Fetched:
    value: float
    sha256: str
    """SHA-256 of what was fetched (the HTTP body, or the query's rows as JSON)."""
    fetched_at: datetime


def named(setting: Any) -> dict[str, str]:
    """``name=value;other=value`` (a `SecretStr` or None) as a mapping."""
    text = setting.get_secret_value() if setting is not None else ""
    pairs: dict[str, str] = {}
    for part in text.split(";"):
        name, sep, value = part.partition("=")
        if sep and name.strip():
            pairs[name.strip()] = value.strip()
    return pairs


def check_expression(expression: str) -> str | None:
    """None when the JMESPath expression compiles, else why not."""
    try:
        jmespath.compile(expression)
    except JMESPathError as error:
        return str(error).splitlines()[0]
    return None


def fetch(definition: Mapping[str, Any], settings: Settings, now: datetime) -> Fetched:
    kind = definition.get("kind")
    if kind == SourceKind.SQL:
        return _sql(definition, settings, now)
    body = _http_get(definition, settings)
    digest = hashlib.sha256(body).hexdigest()
    if kind == SourceKind.HTTP_JSON:
        return Fetched(_from_json(body, str(definition["expression"])), digest, now)
    return Fetched(_from_csv(body, definition), digest, now)


def number(value: object, what: str) -> float:
    """A finite number from a fetched value (a number, or text that reads as one)."""
    if isinstance(value, bool) or value is None:
        raise SourceFailure("source_not_a_number", f"{what} is {json.dumps(value)}, not a number")
    if isinstance(value, int | float | Decimal):
        result = float(value)
    else:
        try:
            result = float(str(value).strip())
        except ValueError:
            shown = str(value)[:80]
            raise SourceFailure(
                "source_not_a_number", f"{what} is '{shown}', not a number"
            ) from None
    if not math.isfinite(result):
        raise SourceFailure("source_not_a_number", f"{what} is {result}, not a finite number")
    return result


# ------------------------------------------------------------------------ SQL


def _sql(definition: Mapping[str, Any], settings: Settings, now: datetime) -> Fetched:
    name = str(definition["connection"])
    url = named(settings.source_connections).get(name)
    if url is None:
        raise SourceFailure("source_connection_unknown", f"no connection named '{name}' is set")
    timeout_ms = int(settings.source_timeout_seconds * 1000)
    try:
        with psycopg.connect(
            url, connect_timeout=max(1, math.ceil(settings.source_timeout_seconds))
        ) as conn:
            conn.read_only = True
            with conn.transaction():
                conn.execute(
                    sql.SQL("SET LOCAL statement_timeout = {}").format(sql.Literal(timeout_ms))
                )
                cursor = conn.execute(str(definition["query"]).encode())
                if cursor.description is None:
                    raise SourceFailure("source_no_rows", "the query returned no rows")
                rows = cursor.fetchmany(2)
                columns = len(cursor.description)
    except psycopg.errors.QueryCanceled:
        raise SourceFailure(
            "source_timeout",
            f"the query took longer than {settings.source_timeout_seconds:g} s and was cancelled",
        ) from None
    except psycopg.OperationalError as error:
        raise SourceFailure(
            "source_unreachable", f"cannot connect to '{name}': {_first_line(error)}"
        ) from None
    except psycopg.Error as error:
        raise SourceFailure("source_sql_error", f"the query failed: {_first_line(error)}") from None
    if len(rows) != 1 or columns != 1:
        raise SourceFailure(
            "source_not_one_number",
            f"the query must return exactly one row of one column (it returned "
            f"{'more than one row' if len(rows) > 1 else f'{len(rows)} rows'}, "
            f"{columns} column{'s' if columns != 1 else ''})",
        )
    value = rows[0][0]
    digest = hashlib.sha256(json.dumps([[str(value)]]).encode()).hexdigest()
    return Fetched(number(value, "the query's value"), digest, now)


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:300]


# ----------------------------------------------------------------------- HTTP


def _refuse_private(url: str, settings: Settings) -> None:
    if settings.source_allow_private:
        return
    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        raise SourceFailure("source_unreachable", f"cannot resolve '{host}'") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise SourceFailure(
                "source_private_address",
                f"'{host}' is a private address; sources reach only public ones "
                "(OKR_SOURCE_ALLOW_PRIVATE)",
            )


def _http_get(definition: Mapping[str, Any], settings: Settings) -> bytes:
    url = str(definition["url"])
    _refuse_private(url, settings)
    secrets = named(settings.source_secrets)
    headers: dict[str, str] = {}
    for header, secret in (definition.get("headers") or {}).items():
        if secret not in secrets:
            raise SourceFailure("source_secret_unknown", f"no secret named '{secret}' is set")
        headers[header] = secrets[secret]
    limit = settings.source_max_bytes
    try:
        with (
            httpx.Client(timeout=settings.source_timeout_seconds, follow_redirects=False) as client,
            client.stream("GET", url, headers=headers) as response,
        ):
            if response.status_code >= 300:
                raise SourceFailure("source_http_status", f"HTTP {response.status_code} from {url}")
            body = bytearray()
            for chunk in response.iter_bytes():
                body.extend(chunk)
                if len(body) > limit:
                    raise SourceFailure(
                        "source_too_large", f"the answer is larger than {limit} bytes"
                    )
            return bytes(body)
    except httpx.TimeoutException:
        raise SourceFailure(
            "source_timeout",
            f"{url} did not answer within {settings.source_timeout_seconds:g} s",
        ) from None
    except httpx.HTTPError as error:
        raise SourceFailure("source_unreachable", f"cannot fetch {url}: {error}") from None


def _from_json(body: bytes, expression: str) -> float:
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise SourceFailure("source_not_json", "the answer is not JSON") from None
    try:
        found = jmespath.search(expression, document)
    except JMESPathError as error:
        raise SourceFailure("source_expression_failed", _first_line(error)) from None
    return number(found, f"'{expression}'")


def _from_csv(body: bytes, definition: Mapping[str, Any]) -> float:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SourceFailure("source_not_csv", "the answer is not UTF-8 text") from None
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            text[:4096], delimiters=",;\t"
        )
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    column = str(definition["column"])
    wanted = dict(definition.get("filter") or {})
    header = reader.fieldnames or []
    for name in [column, *wanted]:
        if name not in header:
            raise SourceFailure("source_column_missing", f"the CSV has no column '{name}'")
    matching = [row for row in reader if all(row.get(k) == v for k, v in wanted.items())]
    if not matching:
        raise SourceFailure("source_no_rows", "no row of the CSV matches the filter")
    return number(matching[-1][column], f"column '{column}' of the last matching row")
