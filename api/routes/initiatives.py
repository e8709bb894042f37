"""Initiatives: the projects meant to move key results, listed under their key results."""

from __future__ import annotations

from api import schemas as s
from api import strategy_schemas as ss
from api.deps import ReadModelsDep
from api.routes import WRITE, StrategyDep, problems, router
from api.routes.commands import (
    AT,
    Command,
    Gathered,
    ModelRead,
    Param,
    id_filter,
    query,
    register,
    register_model_read,
)
from api.usecases.strategy import StrategyUseCases as S
from api.usecases.strategy_reads import StrategyQueries as Q
from domain.initiative import InitiativeStatus
from projections.strategy_dashboard import Initiatives

initiatives = router("initiatives")


_READMODELS = Param("readmodels", ReadModelsDep)

register(
    initiatives,
    StrategyDep,
    problems(403, 404, 409),
    Command(
        "POST",
        "/initiatives",
        "launch_initiative",
        "Launch an initiative",
        """A planned initiative moving the given key results (each found by its id); the caller
        contributes to (or manages) at least one of their objectives.""",
        S.launch_initiative,
        ss.InitiativeCreate,
        status_code=201,
        if_match=False,
        extras=(_READMODELS,),
    ),
)


register_model_read(
    initiatives,
    ModelRead(
        "/initiatives",
        "list_initiatives",
        "Initiatives, by key result, objective, cycle or status",
        "In launch order, with their key results (objective, title, progress) and notes.",
        Q.initiatives,
        ss.InitiativesPage,
        (
            Gathered(
                (
                    id_filter("objective_id", "Moving this objective's KRs."),
                    id_filter("key_result_id", "Moving this key result."),
                    id_filter("cycle_id", "Moving this cycle's KRs."),
                    query("status", InitiativeStatus | None, "Only these.", None),
                ),
                Initiatives,
            ),
            AT,
        ),
        versioned=False,
    ),
)
register_model_read(
    initiatives,
    ModelRead(
        "/initiatives/{initiative_id}",
        "read_initiative",
        "One initiative",
        "Its status, owner, notes and the key results it moves; the `ETag` is its version.",
        Q.initiative,
        ss.InitiativeOut,
    ),
)


_ONE = "/initiatives/{initiative_id}"

register(
    initiatives,
    StrategyDep,
    WRITE,
    Command(
        "PATCH",
        _ONE,
        "update_initiative",
        "Move an initiative's status, add a note, retitle or hand it over",
        """planned → in_progress → done; cancelled with a reason; done or cancelled back to
        in_progress with a reason (409 `status_transition_invalid` otherwise).""",
        S.update_initiative,
        ss.InitiativePatch,
    ),
    Command(
        "POST",
        _ONE + "/key-results",
        "link_key_result",
        "Let an initiative move another key result",
        """The key result must be live; an initiative that is done or cancelled takes no new
        ones (409 `initiative_closed`).""",
        S.link_initiative,
        ss.InitiativeLink,
        extras=(_READMODELS,),
    ),
    Command(
        "POST",
        _ONE + "/key-results/{key_result_id}/unlink",
        "unlink_key_result",
        "Stop an initiative moving a key result",
        "An initiative keeps at least one key result (409 `key_results_required`).",
        S.unlink_initiative,
        s.OptionalComment,
    ),
)
