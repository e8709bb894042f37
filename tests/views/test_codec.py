"""The read side's fast JSON gives exactly what `projections.codec` gives (no database)."""

from __future__ import annotations

from typing import Any

import pytest

from infra.views import codec as fast
from infra.views.log import EventDecoder
from projections import codec
from projections.base import fold
from projections.folds import FOLDS
from tests.unit.projections.story import first_quarter


@pytest.mark.parametrize("name", sorted(FOLDS))
def test_states_round_trip_as_the_reference_codec(name: str) -> None:
    story = first_quarter()
    a_fold: Any = FOLDS[name]
    state = fold(a_fold, story.ledger.log())
    assert fast.jsonable(state) == codec.dump(state)
    assert fast.load(a_fold.state_type, codec.dump(state)) == codec.load(
        a_fold.state_type, codec.dump(state)
    )


def test_the_fast_decoder_decodes_every_event_as_the_mapper_does() -> None:
    story = first_quarter()
    app = story.ledger.app
    decoder = EventDecoder(app.mapper)
    notifications = app.recorder.select_notifications(start=1, limit=10_000)
    assert notifications
    for n in notifications:
        mine = decoder.decode(n.originator_id, n.originator_version, n.topic, n.state)
        theirs = app.mapper.to_domain_event(n)
        assert type(mine) is type(theirs)
        assert mine.__dict__ == theirs.__dict__


@pytest.mark.parametrize("name", sorted(FOLDS))
def test_decoding_json_text_gives_the_reference_state(name: str) -> None:
    story = first_quarter()
    a_fold: Any = FOLDS[name]
    state = fold(a_fold, story.ledger.log())
    text = fast.dumps(state)
    assert fast.decode(a_fold.state_type, text) == codec.load(a_fold.state_type, codec.dump(state))
