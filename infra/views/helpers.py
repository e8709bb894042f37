"""The helper processes of a sharded rebuild: one per shard but the parent's, started as
`python -m infra.views.rebuild` with its job on stdin, killed with the process that started it,
answering its report as the last line of stdout."""

from __future__ import annotations

import contextlib
import ctypes
import signal
import subprocess
import sys
import tempfile
from typing import Any

import orjson

from domain.application import OkrLedger
from infra.views.model import Shard


class Helper:
    """A process building one shard of the views into the shadow tables
    (`python -m infra.views.rebuild`)."""

    def __init__(self, process: subprocess.Popen[bytes], errors: Any) -> None:
        self.process = process
        self.errors = errors

    @classmethod
    def start(
        cls,
        ledger: OkrLedger,
        views: tuple[str, ...],
        target: int,
        shard: Shard,
        pace: dict[str, Any],
    ) -> Helper:
        job = {
            "env": dict(ledger.env),
            "views": list(views),
            "shard": [shard.index, shard.count],
            "target": target,
            **pace,
        }
        errors = tempfile.TemporaryFile()  # noqa: SIM115  (closed in wait())
        process = subprocess.Popen(
            [sys.executable, "-m", "infra.views.rebuild"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            preexec_fn=die_with_parent,
        )
        assert process.stdin is not None
        process.stdin.write(orjson.dumps(job))
        process.stdin.close()
        return cls(process, errors)

    def wait(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        stdout = self.process.stdout.read()
        self.process.wait()
        self.errors.seek(0)
        stderr = self.errors.read().decode(errors="replace")
        self.errors.close()
        if self.process.returncode not in (0, 130):
            raise RuntimeError(f"the rebuild helper failed:\n{stderr[-3000:]}")
        lines = stdout.decode().strip().splitlines()
        return dict(orjson.loads(lines[-1])) if lines else {"interrupted": True}

    def interrupt(self) -> None:
        """Ask it to save its progress and stop (as Ctrl-C would)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()


def die_with_parent() -> None:
    """Linux: the helper is killed when the process that started it dies (an orphaned helper
    would go on writing shadow tables a resumed rebuild is writing too)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def helper_ledger(env: dict[str, str]) -> OkrLedger:
    """The parent's application. Its environment carries the person-id secret the factory
    settled; a secret the store keeps itself must not look configured, so retry without it."""
    from infra.audit.personal import PersonalDataError

    try:
        return OkrLedger(env=env)
    except PersonalDataError:
        secret = OkrLedger.PERSON_ID_SECRET
        return OkrLedger(env={k: v for k, v in env.items() if not k.endswith(secret)})
