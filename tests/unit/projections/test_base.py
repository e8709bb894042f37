"""The fold machinery: Logged, the fold helper, cursors, checkpoints and the JSON codec."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from uuid import UUID

import pytest

from projections import codec
from projections.base import Logged, fold
from projections.directory import DirectoryFold
from projections.folds import FOLDS
from projections.tree import TreeFold
from tests.unit.projections.story import ADMIN, Ledger

ID = UUID("12345678-1234-5678-1234-567812345678")


@dataclass
class Inner:
    when: datetime
    day: date
    maybe: float | None = None


@dataclass
class Outer:
    by_id: dict[UUID, Inner] = field(default_factory=dict)
    items: list[Inner] = field(default_factory=list)
    pair: tuple[int, ...] = ()
    free: dict[str, object] = field(default_factory=dict)


def test_codec_round_trips_nested_dataclasses_through_json() -> None:
    value = Outer(
        by_id={ID: Inner(datetime(2025, 1, 2, 3, 4, 5, 600, tzinfo=UTC), date(2025, 1, 2), 1.5)},
        items=[Inner(datetime(2025, 1, 3, tzinfo=UTC), date(2025, 1, 3))],
        pair=(1, 2),
        free={"a": [1, "b", None]},
    )
    dumped = codec.dump(value)
    assert dumped == {
        "by_id": {
            "12345678-1234-5678-1234-567812345678": {
                "when": "2025-01-02T03:04:05.000600+00:00",
                "day": "2025-01-02",
                "maybe": 1.5,
            }
        },
        "items": [{"when": "2025-01-03T00:00:00+00:00", "day": "2025-01-03", "maybe": None}],
        "pair": [1, 2],
        "free": {"a": [1, "b", None]},
    }
    assert codec.load(Outer, json.loads(json.dumps(dumped))) == value


def test_a_clone_is_equal_and_independent() -> None:
    value = Outer(by_id={ID: Inner(datetime(2025, 1, 2, tzinfo=UTC), date(2025, 1, 2))})
    copied = codec.clone(value)
    assert copied == value
    copied.by_id[ID].maybe = 2.0
    copied.items.append(Inner(datetime(2025, 1, 3, tzinfo=UTC), date(2025, 1, 3)))
    assert value.by_id[ID].maybe is None and value.items == []


def test_codec_refuses_what_it_cannot_encode() -> None:
    with pytest.raises(TypeError):
        codec.dump({1.5: "float keys are not JSON"})
    with pytest.raises(TypeError):
        codec.dump(object())


def test_logged_defaults_recorded_at_to_the_event_timestamp_and_names_the_event_type() -> None:
    ledger = Ledger()
    ledger.app.register_person("Ada Lovelace", "ada@acme.example", ledger.by(ADMIN))
    (logged,) = ledger.log()
    assert logged.position == 1
    assert logged.recorded_at == datetime(2024, 12, 2, 9, 1, tzinfo=UTC)
    assert logged.event_type == "Person.Registered"
    committed = datetime(2024, 12, 2, 9, 1, 7, tzinfo=UTC)
    assert Logged.of(1, logged.event, committed).recorded_at == committed


def test_fold_stops_after_up_to_and_the_cursor_tracks_position_and_now() -> None:
    ledger = Ledger()
    for name in ("Ada", "Ben", "Cy"):
        ledger.app.register_person(name, f"{name.lower()}@acme.example", ledger.by(ADMIN))
    state = fold(DirectoryFold(), ledger.log(), up_to=2)
    assert [p.name for p in state.people.values()] == ["Ada", "Ben"]
    assert state.cursor.position == 2
    assert state.cursor.now == datetime(2024, 12, 2, 9, 2, tzinfo=UTC)


def test_events_at_or_before_the_cursor_are_not_applied_twice() -> None:
    ledger = Ledger()
    ledger.app.form_team("Acme", ledger.by(ADMIN))
    team_id = ledger.app.form_team("Platform", ledger.by(ADMIN)).id
    log = ledger.log()
    a_fold = DirectoryFold()
    state = fold(a_fold, log)
    ledger.app.rename_team(team_id, "Platform Engineering", ledger.by(ADMIN))
    # A page that overlaps what the state already holds: only the new event counts.
    state = fold(a_fold, ledger.log(), state)
    assert [t.name for t in state.teams.values()] == ["Acme", "Platform Engineering"]
    assert state.cursor.position == 3


def test_a_checkpoint_names_its_fold_and_version_and_refuses_another_fold() -> None:
    state = DirectoryFold().initial()
    checkpoint = DirectoryFold().to_json(state)
    assert checkpoint["fold"] == "directory" and checkpoint["version"] == 3
    with pytest.raises(ValueError, match="does not fit fold 'tree'"):
        TreeFold().from_json(checkpoint)


def test_every_fold_is_registered_by_its_name() -> None:
    assert list(FOLDS) == [
        "directory",
        "tree",
        "history",
        "audit",
        "comparison",
        "inbox",
        "staleness",
        "strategy",
    ]
    assert all(a_fold.name == name for name, a_fold in FOLDS.items())
