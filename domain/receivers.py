"""What the receivers the ledger posts to (webhook endpoints, chat channels) share: each is
enabled when created, disabled with a reason, and re-enabled.

`Receiving` is a mixin of the aggregate (as the objective's mixins are): each aggregate declares
its own `Disabled` and `Reenabled` events on the bases below, so their topics stay its own
(`domain.webhook:WebhookEndpoint.Disabled`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from domain.base import CommandContext, OkrAggregate
from domain.errors import require, require_text

if TYPE_CHECKING:
    _Aggregate = OkrAggregate
else:
    _Aggregate = object  # at run time a plain mixin; the aggregate is the class using it


class Disabling(OkrAggregate.Event):
    """The receiver receives nothing from now on; the event's reason says why."""

    def apply(self, receiver: Any) -> None:
        receiver.enabled = False
        receiver.disabled_reason = self.reason


class Reenabling(OkrAggregate.Event):
    def apply(self, receiver: Any) -> None:
        receiver.enabled = True
        receiver.disabled_reason = ""


class Receiving(_Aggregate):
    """Disabling and re-enabling a receiver; `NOUN` names it in the rules
    (`endpoint_disabled`) and messages."""

    NOUN: ClassVar[str]

    if TYPE_CHECKING:  # state set by events; the events are the aggregate's own
        enabled: bool
        disabled_reason: str
        Disabled: ClassVar[type[OkrAggregate.Event]]
        Reenabled: ClassVar[type[OkrAggregate.Event]]

    def disable(self, reason: str, ctx: CommandContext) -> None:
        noun = self.NOUN
        require(self.enabled, f"{noun}_disabled", f"the {noun} is already disabled")
        self._trigger(self.Disabled, ctx, reason=require_text(reason, "reason"))

    def reenable(self, ctx: CommandContext, reason: str = "") -> None:
        noun = self.NOUN
        require(not self.enabled, f"{noun}_enabled", f"the {noun} is already enabled")
        self._trigger(self.Reenabled, ctx, reason=reason)
