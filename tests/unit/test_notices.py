"""Which events notify whom: the pure decisions of `projections.notices`, over an in-memory
ledger (no database), and the preferences a person records."""

from __future__ import annotations

from uuid import UUID

import pytest

from domain.application import OkrLedger
from domain.errors import InvalidValue
from domain.person import Person, validate_preferences
from projections.base import Logged
from projections.notices import Notice, NoticesState, notice_id, notices_for
from tests.unit.builders import ADMIN, ALICE, BOB, CAROL, an_org, ctx


def _notices(app: OkrLedger, state: NoticesState | None = None) -> list[Notice]:
    state = state or NoticesState()
    found: list[Notice] = []
    for notification in app.recorder.select_notifications(start=1, limit=10_000):
        event = app.mapper.to_domain_event(notification)
        found.extend(notices_for(state, Logged.of(notification.id, event)))
    return found


def _who(notices: list[Notice], kind: str) -> set[UUID]:
    return {n.recipient_id for n in notices if n.kind == kind}


def test_submission_notifies_the_approver_with_a_link_to_the_objective() -> None:
    org = an_org()
    objective_id = org.objective()
    org.key_result(objective_id)
    org.app.submit_objective(objective_id, BOB, ctx(ALICE))

    [notice] = _notices(org.app)
    assert (notice.kind, notice.recipient_id, notice.actor) == ("submitted", BOB, str(ALICE))
    assert notice.link == f"/objectives/{objective_id}"
    assert notice.id == notice_id(notice.position, "submitted", BOB)


def test_changes_and_counters_go_to_submitter_and_owners_never_to_the_actor() -> None:
    org = an_org()
    objective_id = org.objective()
    org.key_result(objective_id)
    org.app.submit_objective(objective_id, CAROL, ctx(ALICE))
    org.app.request_changes(objective_id, "sharper please", ctx(CAROL))
    notices = _notices(org.app)
    # The team's owners are Alice (member) and Bob (manager); Alice submitted.
    assert _who(notices, "changes_requested") == {ALICE, BOB}
    [to_alice] = [n for n in notices if n.kind == "changes_requested" and n.recipient_id == ALICE]
    assert to_alice.data == {"comment": "sharper please"}

    org.app.submit_objective(objective_id, BOB, ctx(ALICE))
    org.app.counter_propose(objective_id, {"title": "Better"}, "try this", ctx(BOB))
    assert _who(_notices(org.app), "counter_proposed") == {ALICE}  # Bob proposed it


def test_approval_withdrawal_and_amendments() -> None:
    org = an_org()
    objective_id, kr_id = org.approved_objective()
    notices = _notices(org.app)
    assert _who(notices, "approved") == {ALICE}  # Bob approved: not told of his own act

    amendment = org.app.propose_amendment(
        objective_id, {"key_results": {str(kr_id): {"target": 300}}}, "scope grew", ctx(ALICE)
    ).extra_id
    assert amendment is not None
    notices = _notices(org.app)
    assert _who(notices, "amendment_proposed") == {BOB}  # the approver decides
    org.app.reject_amendment(objective_id, amendment, "not now", ctx(BOB))
    [decided] = [n for n in _notices(org.app) if n.kind == "amendment_decided"]
    assert decided.recipient_id == ALICE
    assert decided.data["outcome"] == "rejected"

    other = org.objective()
    org.key_result(other)
    org.app.submit_objective(other, CAROL, ctx(ALICE))
    org.app.withdraw_objective(other, ctx(ALICE))
    assert _who(_notices(org.app), "withdrawn") == {BOB}


def test_deactivated_people_are_told_nothing_and_a_log_read_twice_notifies_once() -> None:
    org = an_org()
    objective_id = org.objective()
    org.key_result(objective_id)
    org.app.deactivate_person(BOB, "left", ctx(ADMIN))
    org.app.submit_objective(objective_id, CAROL, ctx(ALICE))
    org.app.request_changes(objective_id, "more", ctx(CAROL))
    state = NoticesState()
    first = _notices(org.app, state)
    assert _who(first, "changes_requested") == {ALICE}
    assert _notices(org.app, state) == []  # every position already applied


def test_preferences_are_validated_field_by_field() -> None:
    valid = validate_preferences({"email": False}, "digest", "22:00", "07:00", "Europe/Berlin")
    assert not valid.wants("email")
    for args, field, rule in [
        (({"pager": True}, "immediate", "", "", ""), "channels", "channel_unknown"),
        (({}, "hourly", "", "", ""), "delivery", "delivery_invalid"),
        (({}, "immediate", "25:00", "07:00", ""), "quiet_from", "time_of_day_invalid"),
        (({}, "immediate", "22:00", "", ""), "quiet_to", "quiet_hours_incomplete"),
        (({}, "immediate", "", "", "Mars/Olympus"), "time_zone", "time_zone_invalid"),
        (({}, "immediate", "", "", "../etc/passwd"), "time_zone", "time_zone_invalid"),
    ]:
        with pytest.raises(InvalidValue) as info:
            validate_preferences(*args)  # type: ignore[arg-type]
        assert (info.value.field, info.value.rule) == (field, rule)


def test_preferences_are_an_event_with_a_reason() -> None:
    org = an_org()
    prefs = validate_preferences({"email": False}, "immediate", "", "", "Asia/Tokyo")
    org.app.set_notification_preferences(ALICE, prefs, "too many mails", ctx(ALICE))
    person = org.app.repository.get(ALICE)
    assert isinstance(person, Person)
    assert person.notifications == prefs
    last = list(org.app.recorder.select_notifications(start=1, limit=10_000))[-1]
    event = org.app.mapper.to_domain_event(last)
    assert isinstance(event, Person.NotificationPreferencesChanged)
    assert event.reason == "too many mails"


def test_quiet_hours_hold_email_until_they_end_in_local_time_across_a_dst_change() -> None:
    from datetime import UTC, datetime

    from infra.notify.engine import quiet_until

    night = validate_preferences({}, "immediate", "22:00", "07:00", "Europe/Berlin")
    # 2026-03-28 23:30 in Berlin is 22:30 UTC (CET, +1); the clocks go forward that night,
    # so 07:00 the next morning is 05:00 UTC (CEST, +2).
    assert quiet_until(night, datetime(2026, 3, 28, 22, 30, tzinfo=UTC), "UTC") == datetime(
        2026, 3, 29, 5, 0, tzinfo=UTC
    )
    # 06:00 in Berlin in summer (04:00 UTC): an hour left.
    assert quiet_until(night, datetime(2026, 7, 1, 4, 0, tzinfo=UTC), "UTC") == datetime(
        2026, 7, 1, 5, 0, tzinfo=UTC
    )
    # Noon: not quiet.
    assert quiet_until(night, datetime(2026, 7, 1, 10, 0, tzinfo=UTC), "UTC") is None
    # Without a time zone of their own, the deployment's default applies.
    lunch = validate_preferences({}, "immediate", "12:00", "13:00", "")
    assert quiet_until(lunch, datetime(2026, 7, 1, 12, 30, tzinfo=UTC), "UTC") == datetime(
        2026, 7, 1, 13, 0, tzinfo=UTC
    )
    assert quiet_until(lunch, datetime(2026, 7, 1, 12, 30, tzinfo=UTC), "Asia/Tokyo") is None


def test_the_smtp_url_is_taken_apart_and_its_password_never_shown() -> None:
    from infra.notify.channels import SmtpConfig, message_id

    config = SmtpConfig.from_url("smtp://mailer:p%40ss@mail.acme.example:587?starttls=1")
    assert (config.host, config.port, config.username) == ("mail.acme.example", 587, "mailer")
    assert config.password is not None and config.password.get_secret_value() == "p@ss"
    assert (config.start_tls, config.use_tls) == (True, False)
    assert "p@ss" not in repr(config) and "p@ss" not in str(config)
    tls = SmtpConfig.from_url("smtps://relay.acme.example")
    assert (tls.port, tls.use_tls, tls.start_tls, tls.username) == (465, True, False, None)
    with pytest.raises(ValueError, match="OKR_SMTP_URL"):
        SmtpConfig.from_url("http://mail.acme.example")
    notice = UUID("12345678-1234-5678-1234-567812345678")
    assert message_id(notice, "email", "okrledger <okr@acme.example>") == (
        "<12345678-1234-5678-1234-567812345678.email@acme.example>"
    )
