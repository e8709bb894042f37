"""Channels: how a rendered message reaches a person.

A channel is small on purpose, so other channels (Slack, Microsoft Teams, ...) plug in beside
e-mail: a `name` (what preferences and delivery rows call it), `send(message)` returning the id
the receiving side can recognise a resend by (raising on failure: the sender retries later),
and `close()`. The in-app channel needs no class: a notice is "sent" in-app by being stored
(the notifications page shows it), in the dispatch transaction.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib
from pydantic import SecretStr

from infra.notify.render import Message


class Channel(Protocol):
    name: str

    def send(self, message: Message) -> str:
        """Deliver `message`; the id the receiver can recognise it (and a resend of it) by."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class SmtpConfig:
    """`OKR_SMTP_URL` taken apart. The password stays a `SecretStr`: never in a repr or log."""

    host: str
    port: int
    username: str | None
    password: SecretStr | None
    start_tls: bool
    use_tls: bool
    timeout: float = 10.0

    @classmethod
    def from_url(cls, url: str) -> SmtpConfig:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            msg = "OKR_SMTP_URL must look like smtp://user:pass@host:587?starttls=1"
            raise ValueError(msg)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        use_tls = parts.scheme == "smtps"
        starttls = query.get("starttls", "0").lower() in ("1", "true", "on", "yes")
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if use_tls else 587 if starttls else 25),
            username=unquote(parts.username) if parts.username else None,
            password=SecretStr(unquote(parts.password)) if parts.password else None,
            start_tls=starttls and not use_tls,
            use_tls=use_tls,
            timeout=float(query.get("timeout", "10")),
        )

    def __repr__(self) -> str:
        user = f"{self.username}:***@" if self.username else ""
        return f"SmtpConfig(smtp://{user}{self.host}:{self.port})"

    __str__ = __repr__


def message_id(notice_id: object, channel: str, mail_from: str) -> str:
    """Deterministic: a resend of the same notice carries the same `Message-ID`."""
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "okrledger.invalid"
    return f"<{notice_id}.{channel}@{domain}>"


class EmailChannel:
    """E-mail over SMTP with aiosmtplib: multipart text + HTML, one-click unsubscribe."""

    name = "email"

    def __init__(self, config: SmtpConfig, mail_from: str) -> None:
        self.config = config
        self.mail_from = mail_from
        self._loop = asyncio.new_event_loop()
        # The loop runs on a thread of its own: a caller's thread may already run a loop (the
        # web server's, a browser driver's), and one loop cannot run inside another.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="okr-smtp")
        self._smtp: aiosmtplib.SMTP | None = None

    def build(self, message: Message) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self.mail_from
        mail["To"] = formataddr((message.recipient.name, message.recipient.email))
        mail["Subject"] = message.subject
        mail["Date"] = format_datetime(datetime.now(UTC))
        mail["Message-ID"] = message_id(message.notice_id, self.name, self.mail_from)
        mail["Auto-Submitted"] = "auto-generated"
        mail["X-Okrledger-Notice"] = f"{message.kind} {message.notice_id}"
        if message.unsubscribe_url:
            # RFC 8058: a POST of "List-Unsubscribe=One-Click" to the URL unsubscribes.
            mail["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
            mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        mail.set_content(message.text)
        mail.add_alternative(message.html, subtype="html")
        return mail

    def send(self, message: Message) -> str:
        mail = self.build(message)
        self._worker.submit(self._loop.run_until_complete, self._send(mail)).result()
        return str(mail["Message-ID"])

    async def _send(self, mail: EmailMessage) -> None:
        for attempt in (1, 2):
            smtp = await self._connected()
            try:
                await smtp.send_message(mail)
                return
            except aiosmtplib.SMTPServerDisconnected:
                self._smtp = None  # the server closed an idle connection: connect again once
                if attempt == 2:
                    raise

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._smtp is not None and self._smtp.is_connected:
            return self._smtp
        config = self.config
        smtp = aiosmtplib.SMTP(
            hostname=config.host,
            port=config.port,
            use_tls=config.use_tls,
            start_tls=config.start_tls,
            timeout=config.timeout,
            username=config.username,
            password=config.password.get_secret_value() if config.password else None,
        )
        await smtp.connect()
        self._smtp = smtp
        return smtp

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self._worker.submit(self._quit).result()
        self._worker.shutdown(wait=True)

    def _quit(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None and smtp.is_connected:
            try:
                self._loop.run_until_complete(asyncio.wait_for(smtp.quit(), self.config.timeout))
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                smtp.close()
        self._loop.close()
