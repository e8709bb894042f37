"""The notifier (docs/notifications.md): following a backlog, and commit → e-mail received.

- backlog: a `Notifier` (follower only) started at position 0 on a copy of the generated
  history, timed until its position reaches the head (every event decoded, decided, and the
  notices and the position committed in pages), beside a raw scan of the same events table.
- latency: on a copy of the demo, objectives submitted for approval at a steady pace while a
  `Notifier` with an e-mail channel runs in the same process (as in `okr serve`); timed from
  the submission's return to the in-process SMTP server (aiosmtpd) receiving the approver's
  message. The raw limit: the same message sent straight to the same server with aiosmtplib.
"""

from __future__ import annotations

import threading
import time
from typing import Any
from uuid import UUID

from psycopg.conninfo import conninfo_to_dict
from pydantic import SecretStr

from bench.harness import Figure, Row, ScenarioResult, Target, alternate, paired, percentile
from bench.raw import raw_scan
from bench.scenarios import Context


class _Inbox:
    """aiosmtpd handler: when each subject arrived."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.lock = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        import email
        import email.policy

        mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.arrived[str(mail["Subject"])] = time.perf_counter()
            self.lock.notify_all()
        return "250 OK"

    def wait(self, subject: str, timeout: float) -> float | None:
        with self.lock:
            self.lock.wait_for(lambda: subject in self.arrived, timeout)
            return self.arrived.get(subject)


def run(ctx: Context) -> ScenarioResult:
    result = ScenarioResult("notify", "notifier: backlog, commit → e-mail")
    _backlog(ctx, result)
    _latency(ctx, result)
    return result


def _backlog(ctx: Context, result: ScenarioResult) -> None:
    from bench.scenarios.readside import _ledger
    from infra.notify.engine import Notifier
    from infra.settings import Settings

    size = int(ctx.pick(100_000, 20_000))
    source = ctx.datasets.generated(size)
    template = str(conninfo_to_dict(source)["dbname"])
    follow, scan = Figure("events/s"), Figure("events/s")
    notices = 0
    settings = Settings(notifier_max_age_hours=10**6)  # the generated history is old

    def follow_round(_: int) -> None:
        nonlocal notices
        url = ctx.cluster.scratch("notify", template=template)
        app = _ledger(url)
        try:
            head = app.recorder.max_notification_id() or 0
            notifier = Notifier(app, settings, channels=[], send=False)
            notifier.store.setup()
            began = time.perf_counter()
            notifier.start()
            try:
                if not notifier.wait_for(head, 600):
                    raise RuntimeError("the notifier did not reach the head")
                follow.add(head / (time.perf_counter() - began))
            finally:
                notifier.stop()
            with notifier.datastore.get_connection() as conn:
                row: Any = conn.execute("SELECT count(*) AS n FROM okrledger_notices").fetchone()
                notices = int(row["n"])
        finally:
            app.close()
            ctx.cluster.forget(url)

    def scan_round(_: int) -> None:
        events, seconds = raw_scan(source)
        scan.add(events / seconds)

    alternate(int(ctx.pick(3, 2)), follow_round, scan_round)
    result.rows.append(
        Row(
            "notify",
            f"notifier following a {size:,}-event backlog",
            follow,
            scan,
            "raw scan of the events table",
            paired(follow, scan),
        )
    )
    result.notes.append(
        f"backlog: the follower from position 0 to the head of a {size:,}-event generated "
        f"history ({notices:,} notices written), pages of 2,000 events, one transaction each."
    )
    ctx.say(f"backlog: {follow.median:,.0f} ev/s vs raw scan {scan.median:,.0f} ev/s")


def _latency(ctx: Context, result: ScenarioResult) -> None:
    import socket

    from aiosmtpd.controller import Controller

    from bench.scenarios.readside import _ledger
    from domain.base import CommandContext
    from domain.objective import Kind
    from domain.scoring import Measure
    from infra.notify.channels import EmailChannel, SmtpConfig
    from infra.notify.engine import Notifier
    from infra.notify.render import Message, Recipient
    from infra.settings import Settings

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    demo = ctx.datasets.demo()
    url = ctx.cluster.scratch("notify_lag", template=demo.database)
    app = _ledger(url, pool_size=6)
    smtp_url = f"smtp://127.0.0.1:{port}"
    settings = Settings(smtp_url=SecretStr(smtp_url), mail_from="okr@bench.example")
    notifier = Notifier(app, settings, poll_seconds=0.5)
    submissions = int(ctx.pick(200, 40))
    pace = 0.1  # 10 submissions/s
    p50, p99 = Figure("ms", better="lower"), Figure("ms", better="lower")
    raw50, raw99 = Figure("ms", better="lower"), Figure("ms", better="lower")
    missing = 0
    try:
        system = CommandContext.system()
        tag = str(time.time_ns())[-6:]
        approver = app.register_person("Bench Approver", f"approver-{tag}@bench.example", system).id
        author = app.register_person("Bench Author", f"author-{tag}@bench.example", system).id
        as_author = CommandContext(actor=str(author))
        notifier.start()
        head = app.recorder.max_notification_id() or 0
        if not notifier.wait_for(head, 300):
            raise RuntimeError("the notifier did not catch up with the demo")
        time.sleep(2.0)  # let the demo's own recent notices drain

        def drafts(count: int, round_no: int) -> list[tuple[UUID, str]]:
            made = []
            for i in range(count):
                title = f"Bench objective {tag}-{round_no}-{i}"
                objective_id = app.draft_objective(
                    cycle_id=demo.active_cycle_id,
                    title=title,
                    kind=Kind.COMMITTED,
                    ctx=as_author,
                    owner_person_id=author,
                ).id
                app.add_key_result(
                    objective_id,
                    title="Customers signed",
                    measure=Measure.METRIC,
                    baseline=0,
                    target=10,
                    ctx=as_author,
                )
                made.append((objective_id, title))
            return made

        def product_round(round_no: int) -> None:
            nonlocal missing
            ready = drafts(submissions, round_no)
            committed: dict[str, float] = {}
            for objective_id, title in ready:
                began = time.perf_counter()
                app.submit_objective(objective_id, approver, as_author)
                committed[title] = time.perf_counter()
                time.sleep(max(0.0, pace - (time.perf_counter() - began)))
            lags = []
            for title, at in committed.items():
                subject = f"Bench Author submitted “{title}” for your approval"
                arrived = inbox.wait(subject, 30.0)
                if arrived is None:
                    missing += 1
                    continue
                lags.append((arrived - at) * 1000)
            p50.add(percentile(lags, 0.5))
            p99.add(percentile(lags, 0.99))

        channel = EmailChannel(SmtpConfig.from_url(smtp_url), "okr@bench.example")
        recipient = Recipient(approver, "Bench Approver", f"approver-{tag}@bench.example", True)

        def raw_round(round_no: int) -> None:
            lags = []
            for i in range(submissions):
                subject = f"raw {tag}-{round_no}-{i}"
                message = Message(
                    approver, "submitted", recipient, subject, "text", "<p>html</p>", "http://x"
                )
                began = time.perf_counter()
                channel.send(message)
                arrived = inbox.wait(subject, 30.0)
                if arrived is not None:
                    lags.append((arrived - began) * 1000)
                time.sleep(max(0.0, pace - (time.perf_counter() - began)))
            raw50.add(percentile(lags, 0.5))
            raw99.add(percentile(lags, 0.99))

        try:
            alternate(int(ctx.pick(3, 2)), product_round, raw_round)
        finally:
            channel.close()
    finally:
        notifier.stop()
        app.close()
        controller.stop()
        ctx.cluster.forget(url)
    result.rows += [
        Row(
            "notify",
            "commit → e-mail received, p50",
            p50,
            raw50,
            "direct aiosmtplib send",
            paired(p50, raw50),
        ),
        Row(
            "notify",
            "commit → e-mail received, p99",
            p99,
            raw99,
            "direct aiosmtplib send",
            paired(p99, raw99),
            (Target.at_most(2000, "ms"),),
        ),
    ]
    result.notes.append(
        f"latency: {submissions} submissions per round at {1 / pace:.0f}/s by one writer on a "
        "copy of the demo, the notifier (follower + sender, e-mail on) in the same process, "
        "aiosmtpd on localhost; the raw limit sends the same kind of message straight to it"
        + (f"; {missing} messages did not arrive within 30 s" if missing else "")
        + "."
    )
    ctx.say(f"commit → mail: p50 {p50.median:.0f} ms, p99 {p99.median:.0f} ms")
