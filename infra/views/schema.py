"""The views' tables: one group per view, each row keyed by the entity it describes.

Documents are `json`, not `jsonb`: fold states are ordered (key results in the order they were
added, members in joining order) and jsonb would sort their keys. The columns beside a document
are what queries filter and order on. `seq` is the log position that created the entity, which
restores the order of the folds' dictionaries.

Append-only documents hold only what their columns do not: a query puts the columns back.
An objective's history timeline is not stored twice: it is the `view_audit` rows of the
objective's events (`entity_id, position` indexed; the row's `action` is the entry's summary),
so the history view's answers read the audit view's table (`READS`), which the live views keep
at the one position they all share. A check-in is stored once as well: its value, confidence,
note, actor, time and reason are its audit row's; `view_history_check_ins` keeps only the keys
that find it (objective, key result, lineage, position), its valid day and what superseded it.
An audit row's document is a positional array (`infra.views.store.audit_doc`); a check-in's
(three events in four) holds only its template's values (`infra.views.model.CheckInAudit`):
its sentence and after side are rendered when it is read, with its key result's title from
`view_audit_titles` (a row per key result and title, at the first check-in that read it; the
latest one at or before a check-in's position is the title it read). The strategy
view is one document, the strategy fold's state (`view_strategy`, kind "strategy"; `changed`:
the position it was written at): the strategy, KPIs, initiatives and quality levels, which the
narration context reads as well.

Text keys (kinds, actors, event types, statuses, people's ids as text) use the `C` collation:
they are compared for equality and sorted only internally (indexes, `ORDER BY seq, kind, id`
among lowercase ASCII kinds), where byte order answers the same and costs less than the
database's locale (`LIKE 'Objective.%'` can use an index then as well).

A rebuild fills `<table>__new` copies (primary keys only while loading, but for the tables keyed
at random: `key_after_load`), adds the indexes, and
swaps them in by renaming, in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg.sql import SQL, Composed, Identifier

from infra.views.model import (
    AUDIT,
    COMPARISON,
    DIRECTORY,
    HISTORY,
    INBOX,
    STALENESS,
    STRATEGY,
    TIMETRAVEL,
    TREE,
)

SHADOW = "__new"
RETIRED = "__old"

TRACKING_TABLE = "okr_views_tracking"
"""eventsourcing's single-row tracking table: the log position every live view has applied."""
TRACKING_NAME = "okrledger"
META_TABLE = "okr_views"
"""One row per view: its fold version, when and up to where it was last rebuilt."""
REBUILD_TABLE = "okr_views_rebuild"
"""An interrupted rebuild's progress, to resume from."""
SUPERSEDED_TABLE = "okr_views_rebuild_superseded"
"""The supersessions a rebuild's scan met (check-in id, id of the correction, the position of
the page that met it, the shard that wrote it): `view_history_check_ins`' shadow has no key to
find a check-in by during the load, so they are applied in one statement at the index phase
(`Rebuild._supersede`) and the table emptied in the same transaction. Created, and resumed
from, with the shadow tables."""
REBUILD_PARKED_TABLE = "okr_views_rebuild_parked"
"""The parked objectives' rows of a saved rebuild (`infra.views.model.Parked`), one row per
objective beside its `REBUILD_TABLE` row (deleted with it): written as they change, a page at a
time, never held in memory at once."""


@dataclass(frozen=True)
class Table:
    name: str
    columns: str
    primary_key: str
    indexes: tuple[str, ...] = ()
    append_only: bool = False
    """Rows written as the log is read (audit, history entries, checkpoints), not at the end."""
    key_after_load: bool = False
    """A rebuild's shadow of this table is loaded without its primary key, which is built by a
    sort with the other indexes: its key is random in the log's order (a check-in's id, an
    objective's id first), so keeping it up during the load cost an insert at a random place
    of a growing btree per row."""

    def create(self, schema: str, suffix: str = "", *, key: bool = True) -> Composed:
        """The table; without its primary key if not `key` (`add_key` adds it)."""
        if not key:
            return SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(
                Identifier(schema, self.name + suffix), SQL(self.columns)
            )
        return SQL("CREATE TABLE IF NOT EXISTS {} ({}, CONSTRAINT {} PRIMARY KEY ({}))").format(
            Identifier(schema, self.name + suffix),
            SQL(self.columns),
            Identifier(self.name + suffix + "_pkey"),
            SQL(self.primary_key),
        )

    def add_key(self, schema: str, suffix: str = "") -> Composed:
        """The primary key of a table created without it (built by a sort over its rows)."""
        return SQL("ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY ({})").format(
            Identifier(schema, self.name + suffix),
            Identifier(self.name + suffix + "_pkey"),
            SQL(self.primary_key),
        )

    def index_name(self, n: int, suffix: str = "") -> str:
        return f"{self.name}{suffix}_i{n}"

    def create_indexes(self, schema: str, suffix: str = "") -> list[Composed]:
        """An index is its columns, or its columns and " WHERE " a predicate (partial)."""
        statements = []
        for n, index in enumerate(self.indexes):
            columns, _, predicate = index.partition(" WHERE ")
            statements.append(
                SQL("CREATE INDEX IF NOT EXISTS {} ON {} ({}){}").format(
                    Identifier(self.index_name(n, suffix)),
                    Identifier(schema, self.name + suffix),
                    SQL(columns),
                    SQL(f" WHERE {predicate}" if predicate else ""),
                )
            )
        return statements


OBJECTIVE_OF_ANOTHER = "objective_id"
OBJECTIVE_OF_ANOTHER_ROW = "objective_id <> entity_id"
"""Audit rows whose objective is not their own entity (nearly every row with an objective is an
objective's own event): the only ones the audit's `objective_id` index keeps. Its filter on an
entity asks `entity_id = X OR (objective_id = X AND objective_id <> entity_id) OR ...`, which
is the same question, in the form that index answers."""


TABLES: dict[str, tuple[Table, ...]] = {
    DIRECTORY: (
        Table(
            "view_directory",
            'kind text COLLATE "C" NOT NULL, id uuid NOT NULL, seq bigint NOT NULL, '
            "changed bigint NOT NULL, doc json NOT NULL",
            "kind, id",
            ("changed",),
        ),
    ),
    TREE: (
        Table(
            "view_tree_org",
            'kind text COLLATE "C" NOT NULL, id uuid NOT NULL, seq bigint NOT NULL, '
            "doc json NOT NULL",
            "kind, id",
        ),
        Table(
            "view_tree_objectives",
            "objective_id uuid NOT NULL, cycle_id uuid NOT NULL, seq bigint NOT NULL, "
            "owner_team_id uuid, owner_person_id uuid, approver_id uuid, "
            'status text COLLATE "C" NOT NULL, '
            "private boolean NOT NULL, doc json NOT NULL, check_ins json NOT NULL",
            "objective_id",
            ("cycle_id, seq", "owner_team_id", "owner_person_id"),
        ),
    ),
    COMPARISON: (
        Table(
            "view_comparison",
            "objective_id uuid NOT NULL, cycle_id uuid NOT NULL, doc json NOT NULL",
            "objective_id",
            ("cycle_id",),
        ),
    ),
    HISTORY: (
        Table(
            "view_history_objectives",
            "objective_id uuid NOT NULL, cycle_id uuid NOT NULL, seq bigint NOT NULL, "
            "doc json NOT NULL",
            "objective_id",
            ("cycle_id",),
        ),
        Table(
            "view_history_check_ins",
            "check_in_id uuid NOT NULL, objective_id uuid NOT NULL, key_result_id uuid NOT NULL, "
            "lineage_id uuid NOT NULL, position bigint NOT NULL, superseded_by uuid, "
            "effective_on date NOT NULL",
            "check_in_id",
            # No index on `lineage_id`: no query looks a check-in up by its lineage.
            ("objective_id, position",),
            append_only=True,
            key_after_load=True,
        ),
    ),
    AUDIT: (
        Table(
            "view_audit",
            "position bigint NOT NULL, recorded_at timestamptz NOT NULL, "
            'actor text COLLATE "C" NOT NULL, '
            'event_type text COLLATE "C" NOT NULL, entity_id uuid NOT NULL, objective_id uuid, '
            "key_result_id uuid, cycle_id uuid, doc json NOT NULL",
            "position",
            (
                "actor, position",
                "entity_id, position",
                OBJECTIVE_OF_ANOTHER + ", position WHERE " + OBJECTIVE_OF_ANOTHER_ROW,
                "key_result_id, position",
                "event_type, position",
                "cycle_id, position",
            ),
            append_only=True,
        ),
        Table(
            "view_audit_titles",
            "key_result_id uuid NOT NULL, position bigint NOT NULL, objective_id uuid NOT NULL, "
            "title text NOT NULL",
            # A check-in's audit row reads the latest title row of its key result at or
            # before its position: a backward scan of this key.
            "key_result_id, position",
            append_only=True,
        ),
    ),
    INBOX: (
        Table(
            "view_inbox",
            'kind text COLLATE "C" NOT NULL, id uuid NOT NULL, seq bigint NOT NULL, '
            'approver_id text COLLATE "C", '
            'submitted_by text COLLATE "C", doc json NOT NULL',
            "kind, id",
            ("approver_id", "submitted_by"),
        ),
    ),
    STALENESS: (
        Table(
            "view_staleness",
            'kind text COLLATE "C" NOT NULL, id uuid NOT NULL, seq bigint NOT NULL, cycle_id uuid, '
            "doc json NOT NULL",
            "kind, id",
            ("cycle_id",),
        ),
    ),
    STRATEGY: (
        Table(
            "view_strategy",
            'kind text COLLATE "C" NOT NULL, changed bigint NOT NULL, doc json NOT NULL',
            "kind",
        ),
    ),
    TIMETRAVEL: (
        Table(
            "view_tt_checkpoints",
            "position bigint NOT NULL, shard integer NOT NULL, shards integer NOT NULL",
            "position, shards, shard",
            append_only=True,
        ),
        Table(
            "view_tt_objectives",
            "objective_id uuid NOT NULL, position bigint NOT NULL, cycle_id uuid NOT NULL, "
            "doc json NOT NULL",
            "objective_id, position",
            ("cycle_id, objective_id, position",),
            append_only=True,
            key_after_load=True,
        ),
        Table(
            "view_tt_organisation",
            "position bigint NOT NULL, doc json NOT NULL",
            "position",
            append_only=True,
        ),
        Table(
            "view_tt_strategy",
            "position bigint NOT NULL, doc json NOT NULL",
            "position",
            append_only=True,
        ),
    ),
}


READS: dict[str, tuple[str, ...]] = {HISTORY: ("view_audit", "view_audit_titles")}
"""Tables of another view that a view's queries read: the history's timeline is the audit's
rows. A rebuild of a view rebuilds the views it reads as well: `okr rebuild history` rebuilds
the audit view too."""

RETIRED_TABLES = ("view_history_timeline", "view_narration")
"""Tables of earlier row shapes, dropped when the views' tables are created."""


def tables_of(views: tuple[str, ...] | list[str]) -> list[Table]:
    return [table for view in views for table in TABLES[view]]


def meta_statements(schema: str) -> list[Composed]:
    return [
        SQL(
            "CREATE TABLE IF NOT EXISTS {} (view text PRIMARY KEY, version text NOT NULL, "
            "generation bigint NOT NULL DEFAULT 0, built_at timestamptz, built_position bigint)"
        ).format(Identifier(schema, META_TABLE)),
        SQL(
            "CREATE TABLE IF NOT EXISTS {} (id text PRIMARY KEY, views text[] NOT NULL, "
            "versions text NOT NULL, target bigint NOT NULL, position bigint NOT NULL, "
            "started_at timestamptz NOT NULL, saved_at timestamptz NOT NULL, state bytea NOT NULL)"
        ).format(Identifier(schema, REBUILD_TABLE)),
        SQL(
            "CREATE TABLE IF NOT EXISTS {} (id text NOT NULL REFERENCES {} (id) ON DELETE CASCADE, "
            "objective_id uuid NOT NULL, rows bytea STORAGE EXTERNAL NOT NULL, "
            "PRIMARY KEY (id, objective_id))"
        ).format(Identifier(schema, REBUILD_PARKED_TABLE), Identifier(schema, REBUILD_TABLE)),
        *(
            SQL("DROP TABLE IF EXISTS {}, {}, {}").format(
                Identifier(schema, name),
                Identifier(schema, name + SHADOW),
                Identifier(schema, name + RETIRED),
            )
            for name in RETIRED_TABLES
        ),
    ]
