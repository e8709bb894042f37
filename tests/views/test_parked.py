"""A closed cycle's live check-ins leave the model's memory (`infra.views.model.Parked`) and
nothing any answer reads is lost: the tree rows, a resumed model and a correction after the
cycle is reopened see every check-in the pure tree fold keeps."""

from __future__ import annotations

from datetime import date

from infra.views.model import VIEWS, Model, live_check_ins
from infra.views.model_file import model_bytes, model_from_bytes
from projections.tree import TreeFold, TreeState
from tests.unit.projections.story import ADMIN, Story, first_quarter


def _held(model: Model) -> int:
    """Check-in points the model's tree holds in memory."""
    return sum(
        len(kr.live_check_ins)
        for node in model.tree.objectives.values()
        for kr in node.key_results.values()
    )


def _every_check_in_kept(model: Model, reference: TreeState) -> None:
    for objective_id, node in reference.objectives.items():
        expected = {kr_id: kr.live_check_ins for kr_id, kr in node.key_results.items()}
        assert live_check_ins(model.parked, model.tree.objectives[objective_id]) == expected
        for kr_id, kr in node.key_results.items():
            assert model.tree.objectives[objective_id].key_results[kr_id].current == kr.current


def _folded(story: Story) -> Model:
    model = Model(VIEWS)
    model.apply_all(story.ledger.log())
    model.take_changes()
    return model


def test_a_closed_cycle_keeps_only_the_check_ins_in_force_in_memory() -> None:
    story = first_quarter()
    reference = story.ledger.fold(TreeFold())
    model = _folded(story)
    closed = reference.cycle_objectives[story.q1]
    every = sum(
        len(kr.live_check_ins)
        for o in closed
        for kr in reference.objectives[o].key_results.values()
    )
    # One check-in per key result at most: bounded by the key results, not by the check-ins
    # the cycle took (5 live ones, two of them on one key result each beside a later one).
    for objective_id in closed:
        for kr in model.tree.objectives[objective_id].key_results.values():
            assert len(kr.live_check_ins) <= 1
            assert kr.live_check_ins == ([kr.current] if kr.current is not None else [])
    assert _held(model) == 3 < every == 5
    assert len(model.parked) == len([o for o in closed if o in model.parked]) > 0
    _every_check_in_kept(model, reference)
    # A resumed rebuild loads them back.
    loaded = model_from_bytes(model_bytes(model), model.checkpoint_every)
    assert len(loaded.parked) == len(model.parked)
    _every_check_in_kept(loaded, reference)


def test_a_correction_after_the_cycle_reopens_sees_the_parked_check_ins() -> None:
    story = first_quarter()
    app, by = story.ledger.app, story.ledger.by
    model = _folded(story)
    assert story.o1 in model.parked
    app.reopen_cycle(story.q1, "a late correction", by(ADMIN, date(2025, 4, 6)))
    # The check-in of Jan 10 is no longer in force, so only the parked list holds it.
    app.correct_check_in(
        story.o1,
        story.kr1,
        story.check_ins["kr1_jan10"],
        15,
        "recounted",
        by(story.ada),
    )
    log = story.ledger.log()
    model.apply_all(log)
    changes = model.take_changes()
    assert story.o1 not in model.parked
    _every_check_in_kept(model, story.ledger.fold(TreeFold()))
    # Narrated from the parked value, as a fold of the whole log narrates it.
    fresh = Model(VIEWS)
    fresh.apply_all(log)
    assert changes.audit[-1] == fresh.take_changes().audit[-1]
    assert "from 16 to 15" in changes.audit[-1].action
