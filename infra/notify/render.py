"""Notices rendered into messages, with names as the directory holds them *now*.

A notice names people and the objective by id; rendering looks them up at send time (or when a
notifications page shows it), so a person forgotten after the event is named as
"forgotten person #n" in every message rendered after the erasure, never by their old name.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from domain.person import DEFAULT_PREFERENCES, NotificationPreferences
from projections.notices import SOURCE_KINDS, Notice


@dataclass(frozen=True)
class Recipient:
    id: UUID
    name: str
    email: str
    active: bool
    preferences: NotificationPreferences = DEFAULT_PREFERENCES


class Directory(Protocol):
    """Who people are and what objectives are called, as of now."""

    def person(self, person_id: UUID) -> Recipient | None: ...

    def objective_title(self, objective_id: UUID) -> str | None: ...


@dataclass(frozen=True)
class Message:
    """A notice as one channel sends it to one person."""

    notice_id: UUID
    kind: str
    recipient: Recipient
    subject: str
    text: str
    html: str
    url: str
    """The page that acts on it (absolute)."""
    unsubscribe_url: str | None = None


def actor_name(directory: Directory, actor: str) -> str:
    try:
        person = directory.person(UUID(actor))
    except ValueError:
        return "okrledger"
    return person.name if person is not None else "someone"


def sentence(notice: Notice, directory: Directory) -> tuple[str, str]:
    """The notice's subject line and the words that follow it (comments, reasons)."""
    who = actor_name(directory, notice.actor)
    title = "an objective"
    if notice.objective_id is not None:
        found = directory.objective_title(notice.objective_id)
        if found:
            title = f"“{found}”"
    data = notice.data
    kind = notice.kind
    if kind == "submitted":
        return f"{who} submitted {title} for your approval", (
            "Approve it, request changes or counter-propose."
        )
    if kind == "changes_requested":
        return f"{who} requested changes to {title}", data.get("comment", "")
    if kind == "counter_proposed":
        return f"{who} counter-proposed changes to {title}", data.get("comment", "")
    if kind == "approved":
        return f"{who} approved {title}", "It is now tracked."
    if kind == "withdrawn":
        return f"{who} withdrew {title} from review", ""
    if kind == "amendment_proposed":
        return f"{who} proposes an amendment to {title}", data.get("reason", "")
    if kind == "amendment_decided":
        outcome = data.get("outcome", "decided")
        return f"{who} {outcome} the amendment to {title}", data.get("comment", "")
    if kind == "planning_opened":
        return f"Planning is open for {data.get('cycle', 'a new cycle')}", (
            "Draft your team's objectives and submit them for approval."
        )
    if kind == "grading_opened":
        return f"Grading is open: grade {title}", f"Cycle {data.get('cycle', '')}."
    if kind == "grading_due":
        return f"Grading {title} is due", f"Cycle {data.get('cycle', '')} has ended."
    if kind == "digest":
        return f"Your weekly digest ({data.get('week', '')})", (
            f"{data.get('held', '0')} notices held for it, {data.get('stale', '0')} stale key results."
        )
    if kind == "confidence_dropped":
        return f"{who}'s confidence in {title} fell from {data.get('from')} to {data.get('to')}", (
            "A drop of three points or more since the previous check-in."
        )
    if kind in ("check_in_due", "check_in_overdue", "check_in_escalated"):
        return _reminder(kind, title, data, directory)
    if kind in SOURCE_KINDS:
        return _source(kind, title, data)
    return f"{who}: {kind.replace('_', ' ')} on {title}", ""


def _reminder(kind: str, title: str, data: dict[str, str], directory: Directory) -> tuple[str, str]:
    """Check-in reminders (projections/reminders.py): the period is the first day of the
    period that went by without a check-in."""
    since = f"No check-in on its key result since {data.get('period', 'the last period')}."
    if kind == "check_in_due":
        return f"Time to check in on {title}", since
    if kind == "check_in_overdue":
        return f"Your check-in on {title} is overdue", since
    owner = data.get("owner_id")
    whose = f"{actor_name(directory, owner)}'s" if owner else "your team's"
    return f"A check-in on {whose} {title} is overdue", since


def _source(kind: str, title: str, data: dict[str, str]) -> tuple[str, str]:
    """A data source's health (infra/sources/sync.py): the key result of `title`, or a KPI."""
    what = data.get("what", "a key result")
    whose = f"{what} of {title}" if "key_result_id" in data else what
    if kind == "source_recovered":
        return f"The data source of {whose} works again", (
            f"It had been failing since {data.get('failing_since', '')}; values are fetched again."
        )
    rule = data.get("rule", "")
    return f"The data source of {whose} is failing", (
        f"{data.get('error', '')} ({rule}). Its value is not updated until the source answers "
        "again; check the source or sync it now."
    )


def render(
    notice: Notice,
    recipient: Recipient,
    directory: Directory,
    base_url: str,
    unsubscribe_url: str | None = None,
) -> Message:
    subject, detail = sentence(notice, directory)
    url = base_url.rstrip("/") + notice.link
    lines = [f"Hello {recipient.name},", "", subject + "."]
    if detail:
        lines += ["", detail]
    lines += ["", f"Open it: {url}"]
    if unsubscribe_url:
        lines += ["", f"Stop these e-mails: {unsubscribe_url}"]
    text = "\n".join(lines) + "\n"
    body = [
        f"<p>Hello {html.escape(recipient.name)},</p>",
        f"<p><strong>{html.escape(subject)}.</strong></p>",
    ]
    if detail:
        body.append(f"<blockquote>{html.escape(detail)}</blockquote>")
    body.append(f'<p><a href="{html.escape(url)}">Open it in okrledger</a></p>')
    if unsubscribe_url:
        body.append(
            f'<p style="color:#666;font-size:small"><a href="{html.escape(unsubscribe_url)}">'
            "Stop these e-mails</a></p>"
        )
    page = "<!doctype html><html><body>" + "".join(body) + "</body></html>"
    return Message(notice.id, notice.kind, recipient, subject, text, page, url, unsubscribe_url)
