"""Who may do what in the strategy layer: pure functions, in the style of `api.policy`.

- strategy (mission, vision, values, perspectives, themes) and the north star: admins and
  managers.
- KPIs: admins and managers define them and change their definition (name, owner, perspective
  or theme, thresholds, retirement); the KPI's owner records and corrects its measurements
  (admins may too, as stewards of the data).
- initiatives: anyone who may contribute to one of the objectives whose key results it moves
  launches it; its owner, admins, and the contributors of those objectives update it.
- an objective's theme, its key results' KPI links and check-ins taken from a KPI: whoever may
  contribute to the objective (`policy.may_contribute`), or decide on it.
- the quality policy (which checks warn or block): admins.
- reading all of it: everyone authenticated; private objectives stay hidden as everywhere.
- auditors write nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from api import policy
from api.policy import ObjectiveFacts, Principal
from domain.access import Role
from projections.directory import DirectoryState

STEWARDS = frozenset({Role.ADMIN, Role.MANAGER})


def may_edit_strategy(principal: Principal) -> bool:
    return principal.role in STEWARDS


def may_define_kpi(principal: Principal) -> bool:
    return principal.role in STEWARDS


def may_change_kpi(principal: Principal) -> bool:
    """Rename, hand over, retag, move thresholds, retire, make it the north star."""
    return principal.role in STEWARDS


def may_measure_kpi(principal: Principal, owner_person_id: UUID) -> bool:
    """Record or correct a measurement."""
    if principal.role == Role.AUDITOR:
        return False
    return principal.role == Role.ADMIN or principal.person_id == owner_person_id


def may_configure_quality(principal: Principal) -> bool:
    return principal.role == Role.ADMIN


def may_work_on_objective(
    directory: DirectoryState, principal: Principal, facts: ObjectiveFacts
) -> bool:
    """Tag it with a theme, link its key results to KPIs, check in from a KPI."""
    return policy.may_contribute(directory, principal, facts) or policy.may_decide(
        directory, principal, facts
    )


def may_launch_initiative(
    directory: DirectoryState, principal: Principal, objectives: Iterable[ObjectiveFacts]
) -> bool:
    if principal.role not in policy.CONTRIBUTING_ROLES:
        return False
    return any(may_work_on_objective(directory, principal, f) for f in objectives)


def may_update_initiative(
    directory: DirectoryState,
    principal: Principal,
    owner_person_id: UUID,
    objectives: Iterable[ObjectiveFacts],
) -> bool:
    if principal.role not in policy.CONTRIBUTING_ROLES:
        return False
    if principal.role == Role.ADMIN or principal.person_id == owner_person_id:
        return True
    return any(may_work_on_objective(directory, principal, f) for f in objectives)
