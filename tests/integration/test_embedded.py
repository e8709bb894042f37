"""The embedded server keeps its data across a stop and a start."""

from __future__ import annotations

from typing import TYPE_CHECKING

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from infra.embedded import start_embedded_postgres, stop_embedded_postgres

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.postgres


def test_start_stop_start_keeps_the_data(tmp_path: Path) -> None:
    data_dir = tmp_path / "okrledger"
    try:
        url = start_embedded_postgres(data_dir)
        params = conninfo_to_dict(url)
        assert url.startswith("postgresql://postgres@/okrledger?host=")
        assert params["host"] == str((data_dir / "pg").resolve())
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (value text)")
            conn.execute("INSERT INTO kept VALUES ('still here')")
        assert start_embedded_postgres(data_dir) == url  # joining a running server is a no-op

        stop_embedded_postgres(data_dir)
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(url, connect_timeout=2).close()

        assert start_embedded_postgres(data_dir) == url
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT value FROM kept").fetchall() == [("still here",)]
    finally:
        stop_embedded_postgres(data_dir)
