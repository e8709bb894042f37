"""Signed one-click unsubscribe links (RFC 8058): they work without signing in.

The link carries the person's id and the channel, signed (itsdangerous) with a key the
notifier keeps in the database, so every process makes and checks the same links. A link
says nothing but "this person may turn this channel off"; it never expires, as a mail client
may offer it long after the message arrived.
"""

from __future__ import annotations

from urllib.parse import quote
from uuid import UUID

from itsdangerous import BadSignature, URLSafeSerializer

from infra.notify.store import NoticeStore

SALT = "okrledger.unsubscribe"
PATH = "/notifications/unsubscribe"


class InvalidLink(Exception):
    """The token was not signed by this deployment (or was altered)."""


class UnsubscribeLinks:
    def __init__(self, store: NoticeStore, base_url: str) -> None:
        self._serializer = URLSafeSerializer(store.secret(), salt=SALT)
        self.base_url = base_url.rstrip("/")

    def token(self, person_id: UUID, channel: str) -> str:
        return str(self._serializer.dumps({"p": str(person_id), "c": channel}))

    def url(self, person_id: UUID, channel: str) -> str:
        return f"{self.base_url}{PATH}?token={quote(self.token(person_id, channel))}"

    def read(self, token: str) -> tuple[UUID, str]:
        try:
            data = self._serializer.loads(token)
            return UUID(data["p"]), str(data["c"])
        except (BadSignature, KeyError, TypeError, ValueError) as error:
            raise InvalidLink("this unsubscribe link is not valid") from error
