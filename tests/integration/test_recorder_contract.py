"""eventsourcing's own recorder contract tests, run unchanged against the hash-chained recorders.

Only the set-up differs from the library's PostgreSQL tests: each test gets a fresh database on
the test server. After each test the chains it wrote must still verify.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal
from unittest import TestCase
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import ProgrammingError
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.tests.persistence import (
    ApplicationRecorderTestCase,
    NonInterleavingNotificationIDsBaseCase,
    ProcessRecorderTestCase,
)
from psycopg.conninfo import conninfo_to_dict

from infra.chain import ChainedApplicationRecorder, ChainedProcessRecorder, verify_chain

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.postgres

EVENTS_TABLE_NAME = "stored_events"
TRACKING_TABLE_NAME = "notification_tracking"


class ChainedPostgresSetup(TestCase):
    """The library's ``SetupPostgresDatastore``, pointed at a fresh test database."""

    schema = "public"
    pool_size = 1
    max_overflow = 0
    max_waiting = 0
    originator_id_type: ClassVar[Literal["uuid", "text"]] = "uuid"

    datastore: PostgresDatastore
    recorders: list[ChainedApplicationRecorder]

    @pytest.fixture(autouse=True)
    def _datastore(self, database_url: str) -> Iterator[None]:
        params = conninfo_to_dict(database_url)
        self.datastore = PostgresDatastore(
            dbname=str(params["dbname"]),
            host=str(params.get("host", "")),
            port=str(params.get("port", "5432")),
            user=str(params.get("user", "")),
            password=str(params.get("password", "")),
            pool_size=self.pool_size,
            max_overflow=self.max_overflow,
            max_waiting=self.max_waiting,
            schema=self.schema,
            originator_id_type=self.originator_id_type,
        )
        if self.schema != "public":
            with self.datastore.transaction(commit=True) as curs:
                curs.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
        self.recorders = []
        try:
            yield
            for recorder in self.recorders:
                report = verify_chain(recorder.chain)
                assert report.ok, report
        finally:
            self.datastore.close()

    def chained(self, recorder: ChainedApplicationRecorder) -> ChainedApplicationRecorder:
        recorder.create_table()
        self.recorders.append(recorder)
        return recorder


class WithSchema(ChainedPostgresSetup):
    schema = "myschema"


class WithTextOriginatorID(ChainedPostgresSetup):
    originator_id_type = "text"

    def new_originator_id(self) -> UUID | str:
        return "test-" + str(uuid4())


class TestChainedApplicationRecorder(
    ChainedPostgresSetup, ApplicationRecorderTestCase[ChainedApplicationRecorder]
):
    def create_recorder(self, table_name: str = EVENTS_TABLE_NAME) -> ChainedApplicationRecorder:
        return self.chained(
            ChainedApplicationRecorder(self.datastore, events_table_name=table_name)
        )

    # As in the library's PostgreSQL tests: the concurrent cases need more than one connection.
    def test_insert_subscribe(self) -> None:
        self.datastore.pool.open()
        self.datastore.pool.resize(2, 2)
        super().optional_test_insert_subscribe()

    def test_concurrent_no_conflicts(self, initial_position: int = 0) -> None:
        self.datastore.pool.open()
        self.datastore.pool.resize(12, 12)
        super().test_concurrent_no_conflicts()

    def test_concurrent_throughput(self) -> None:
        self.datastore.pool.open()
        self.datastore.pool.resize(10, 10)
        super().test_concurrent_throughput()


class TestChainedApplicationRecorderWithSchema(WithSchema, TestChainedApplicationRecorder):
    pass


class TestChainedApplicationRecorderWithTextOriginatorID(
    WithTextOriginatorID, TestChainedApplicationRecorder
):
    pass


class TestChainedProcessRecorder(ChainedPostgresSetup, ProcessRecorderTestCase):
    def create_recorder(self) -> ChainedProcessRecorder:
        recorder = ChainedProcessRecorder(
            datastore=self.datastore,
            events_table_name=EVENTS_TABLE_NAME,
            tracking_table_name=TRACKING_TABLE_NAME,
        )
        self.chained(recorder)
        return recorder


class TestChainedNonInterleavingNotificationIDs(
    ChainedPostgresSetup, NonInterleavingNotificationIDsBaseCase
):
    insert_num = 100

    def create_recorder(self) -> ChainedApplicationRecorder:
        self.datastore.pool.open()
        self.datastore.pool.resize(2, 2)
        return self.chained(ChainedApplicationRecorder(self.datastore))


class TestChainedRecorderErrors(ChainedPostgresSetup):
    def test_refuses_database_functions(self) -> None:
        self.datastore.enable_db_functions = True
        with pytest.raises(ProgrammingError, match="POSTGRES_ENABLE_DB_FUNCTIONS"):
            ChainedApplicationRecorder(self.datastore)

    def test_chain_table_name_must_fit_an_identifier(self) -> None:
        longest = "s" * (63 - len("_chain"))
        ChainedApplicationRecorder(self.datastore, events_table_name=longest)
        with pytest.raises(ProgrammingError, match="Identifier too long"):
            ChainedApplicationRecorder(self.datastore, events_table_name="s" + longest)
