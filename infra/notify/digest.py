"""The weekly digest: one e-mail per person on Monday at 09:00 in their time zone, with the
notices held for it (people who chose `digest`), the key results of theirs that are stale, and
how their objectives moved in the week (`projections.reminders.movement_for`).

When it is due is decided by the pure `projections.reminders.digest_week`; what is stale by
`stale_for`. Sending is one transaction per person: the held deliveries are claimed
(`FOR UPDATE SKIP LOCKED`), a `digest` notice with the deterministic id of (person, week) is
inserted (`ON CONFLICT DO NOTHING`: a second scheduler, or a second tick, finds it and sends
nothing), the e-mail is sent with `Message-ID` `<digest id>.email@domain`, and the held rows and
the digest's own delivery are marked `sent` before the commit. Killed between the SMTP server's
acceptance and that commit, the digest is sent again with the same `Message-ID` (the notifier's
one crash window, docs/notifications.md).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from psycopg.sql import SQL

from infra.notify.channels import Channel
from infra.notify.engine import quiet_until
from infra.notify.render import Directory, Message, Recipient, sentence
from infra.notify.store import IN_APP, NoticeStore, notice_of
from infra.notify.unsubscribe import UnsubscribeLinks
from projections.notices import Notice
from projections.reminders import (
    Movement,
    RemindersState,
    digest_id,
    digest_week,
    local_instant,
    movement_for,
    stale_for,
)
from projections.staleness import StaleKeyResult

EMAIL = "email"


class Digests:
    def __init__(
        self,
        store: NoticeStore,
        directory: Directory,
        channel: Channel,
        base_url: str,
        default_time_zone: str,
        at: time,
    ) -> None:
        self.store = store
        self.directory = directory
        self.channel = channel
        self.base_url = base_url.rstrip("/")
        self.default_time_zone = default_time_zone
        self.at = at
        self.links = UnsubscribeLinks(store, base_url)

    def candidates(self, state: RemindersState) -> set[UUID]:
        """People with e-mails held for the digest, and owners of key results."""
        with self.store.datastore.get_connection() as conn:
            rows: list[Any] = conn.execute(
                SQL(
                    "SELECT DISTINCT n.recipient_id FROM {} d JOIN {} n ON n.id = d.notice_id "
                    "WHERE d.status = 'held' AND d.channel = %s"
                ).format(self.store.deliveries, self.store.notices),
                (EMAIL,),
            ).fetchall()
        people = {row["recipient_id"] for row in rows}
        for objective in state.staleness.objectives.values():
            if objective.owner_person_id is not None:
                people.add(objective.owner_person_id)
            elif objective.owner_team_id is not None:
                people.update(state.people.teams.get(objective.owner_team_id, {}))
        return people - state.people.inactive

    def send_due(self, state: RemindersState, now: datetime) -> int:
        """Send the digests due at `now`; how many were sent. Only people whose Monday window
        is open (by the time zone the log records) and whose digest of the week is not out
        yet are looked up."""
        due: dict[UUID, UUID] = {}
        for person in self.candidates(state):
            zone = ZoneInfo(state.time_zones.get(person) or self.default_time_zone)
            monday = digest_week(zone, now, self.at)
            if monday is not None:
                due[person] = digest_id(person, monday)
        if not due:
            return 0
        with self.store.datastore.get_connection() as conn:
            rows: list[Any] = conn.execute(
                SQL("SELECT id FROM {} WHERE id = ANY(%s)").format(self.store.notices),
                (list(due.values()),),
            ).fetchall()
        done = {row["id"] for row in rows}
        sent = 0
        for person, notice_id in sorted(due.items(), key=lambda item: str(item[0])):
            if notice_id in done:
                continue
            recipient = self.directory.person(person)
            if recipient is None or not recipient.active or not recipient.preferences.wants(EMAIL):
                continue
            prefs = recipient.preferences
            if quiet_until(prefs, now, self.default_time_zone) is not None:
                continue
            zone = ZoneInfo(prefs.time_zone or self.default_time_zone)
            monday = digest_week(zone, now, self.at)
            if monday is None:
                continue
            stale = stale_for(state, person, now.astimezone(zone).date())
            since = local_instant(monday - timedelta(days=7), self.at, zone)
            moves = movement_for(state, person, since, now)
            sent += self._send(
                recipient, digest_id(person, monday), monday.isoformat(), stale, moves
            )
        return sent

    def _send(
        self,
        recipient: Recipient,
        notice_id: UUID,
        week: str,
        stale: list[StaleKeyResult],
        moves: list[Movement],
    ) -> int:
        store = self.store
        with store.datastore.get_connection() as conn, conn.transaction():
            held: list[Any] = conn.execute(
                SQL(
                    "SELECT n.* FROM {} d JOIN {} n ON n.id = d.notice_id WHERE d.status = 'held' "
                    "AND d.channel = %s AND n.recipient_id = %s ORDER BY n.position "
                    "FOR UPDATE OF d SKIP LOCKED"
                ).format(store.deliveries, store.notices),
                (EMAIL, recipient.id),
            ).fetchall()
            moved = [m for m in moves if m.moved]
            if not held and not stale and not moved:
                return 0
            digest = Notice(
                id=notice_id,
                kind="digest",
                recipient_id=recipient.id,
                position=0,
                actor="system",
                objective_id=None,
                link="/notifications",
                data={
                    "week": week,
                    "held": str(len(held)),
                    "stale": str(len(stale)),
                    "moved": str(len(moved)),
                },
            )
            with conn.cursor() as curs:
                if store.insert(curs, [digest]) == 0:
                    return 0  # this week's digest went out already
            notices = [notice_of(row) for row in held]
            message = self.render(recipient, digest, notices, stale, moves)
            message_id = self.channel.send(message)
            now = datetime.now(UTC)
            conn.execute(
                SQL(
                    "UPDATE {} SET status = 'sent', sent_at = %s, message_id = %s, "
                    "last_error = NULL WHERE channel = %s AND notice_id = ANY(%s)"
                ).format(store.deliveries),
                (now, message_id, EMAIL, [n.id for n in notices]),
            )
            conn.execute(
                SQL(
                    "INSERT INTO {} (notice_id, channel, status, not_before, sent_at, message_id) "
                    "VALUES (%s, %s, 'sent', %s, %s, NULL), (%s, %s, 'sent', %s, %s, %s)"
                ).format(store.deliveries),
                (digest.id, IN_APP, now, now, digest.id, EMAIL, now, now, message_id),
            )
            conn.execute(
                SQL("UPDATE {} SET dispatched_at = now() WHERE id = %s").format(store.notices),
                (digest.id,),
            )
        return 1

    def render(
        self,
        recipient: Recipient,
        digest: Notice,
        notices: list[Notice],
        stale: list[StaleKeyResult],
        moves: Sequence[Movement] = (),
    ) -> Message:
        subject = f"Your okrledger week ({digest.data['week']})"
        url = self.base_url + digest.link
        unsubscribe = self.links.url(recipient.id, EMAIL)
        text = [f"Hello {recipient.name},", ""]
        page = [f"<p>Hello {html.escape(recipient.name)},</p>"]
        if moves:
            _section(
                text,
                page,
                "Your objectives this week",
                [
                    (f"{m.title}: {movement_line(m)}", self.base_url + m.link)
                    for m in moves
                    if m.moved
                ],
                empty="Nothing moved on your objectives this week.",
            )
        if notices:
            _section(
                text,
                page,
                "Waiting on you",
                [(sentence(n, self.directory)[0], self.base_url + n.link) for n in notices],
            )
        if stale:
            _section(
                text,
                page,
                "Stale key results",
                [
                    (
                        f"{kr.title} ({kr.objective_title}): {kr.days_since} days",
                        f"{self.base_url}/objectives/{kr.objective_id}",
                    )
                    for kr in stale
                ],
                text_title="Stale key results (no check-in for longer than the cycle's cadence)",
            )
        text += [f"All your notifications: {url}", "", f"Stop these e-mails: {unsubscribe}"]
        page.append(f'<p><a href="{html.escape(url)}">All your notifications</a></p>')
        page.append(
            f'<p style="color:#666;font-size:small"><a href="{html.escape(unsubscribe)}">'
            "Stop these e-mails</a></p>"
        )
        body = "<!doctype html><html><body>" + "".join(page) + "</body></html>"
        return Message(
            digest.id, "digest", recipient, subject, "\n".join(text) + "\n", body, url, unsubscribe
        )


def _section(
    text: list[str],
    page: list[str],
    title: str,
    items: Sequence[tuple[str, str]],
    *,
    text_title: str | None = None,
    empty: str | None = None,
) -> None:
    """One list of linked lines (line, link) under a title, in the text and in the HTML."""
    text.append(f"{text_title or title}:")
    page.append(f"<h3>{title}</h3><ul>")
    for line, link in items:
        text.append(f"- {line}: {link}")
        page.append(f'<li><a href="{html.escape(link)}">{html.escape(line)}</a></li>')
    if not items and empty:
        text.append(f"- {empty}")
        page.append(f"<li>{empty}</li>")
    text.append("")
    page.append("</ul>")


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{round(value * 100)}%"


def _confidence(value: float | None) -> str:
    return "–" if value is None else f"{value:g}"


def movement_line(move: Movement) -> str:
    """`progress 0% → 50%, confidence – → 7, approved`: what moved, then → now."""
    parts = []
    if move.progress_then != move.progress_now:
        parts.append(f"progress {_percent(move.progress_then)} → {_percent(move.progress_now)}")
    if move.confidence_then != move.confidence_now:
        then, now = _confidence(move.confidence_then), _confidence(move.confidence_now)
        parts.append(f"confidence {then} → {now}")
    parts += list(move.changes)
    return ", ".join(parts) or "no change"
