"""The full-ledger export over HTTP (admins only): the package `okr export` writes, as one tar.

The package is written to a temporary folder (`infra.ledger_package.export_ledger` streams the
log, so memory stays flat), packed into a tar beside it, and the route streams that file and
deletes the folder once the response is sent.
"""

from __future__ import annotations

import shutil
import tarfile
import tempfile
from pathlib import Path

from api import policy
from api.errors import forbidden
from api.usecases import Caller, UseCases
from infra.ledger_package import export_ledger
from infra.settings import get_settings

PACKAGE_NAME = "okrledger-ledger"


class LedgerUseCases(UseCases):
    """The whole store out, for an admin."""

    def __init__(self, caller: Caller) -> None:
        if not policy.may_administer(caller.principal):
            raise forbidden("admin_only", "only admins export the whole store")
        super().__init__(caller)

    def export_archive(self) -> Path:
        """A tar of the ledger package in a new temporary folder (the caller removes the folder,
        ``path.parent``, when done)."""
        settings = self.services.settings or get_settings()
        work = Path(tempfile.mkdtemp(prefix="okr-export-"))
        try:
            package = work / PACKAGE_NAME
            export_ledger(self.services.ledger, settings, package, compress=True)
            archive = work / f"{PACKAGE_NAME}.tar"
            with tarfile.open(archive, "w") as tar:
                tar.add(package, arcname=PACKAGE_NAME)
            shutil.rmtree(package)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        return archive
