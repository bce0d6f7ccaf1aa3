"""What a channel's transport promises the sender: send one rendered message, or say
whether trying again later can help."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Rendered:
    """A message ready for its channel, in the runner's language."""

    key: str
    to: str
    subject: str
    text: str
    html: str | None = None
    attachments: tuple[Attachment, ...] = ()
    #: For template channels (WhatsApp): the approved template's name, its language and
    #: the values of its body parameters, in order.
    template: str | None = None
    language: str = "id"
    parameters: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)


class TransientFailure(Exception):
    """Not sent this time; trying again later may work (server down, 429, timeout)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        #: Seconds the channel asked us to wait (Retry-After), if it said.
        self.retry_after = retry_after


class PermanentFailure(Exception):
    """Never going to work as it is: a refused address (``bounced``) or a refused
    message (a rejected template). Not tried again."""

    def __init__(self, reason: str, *, bounced: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.bounced = bounced


class Transport(Protocol):
    """A channel's sender. Opened once per batch, so a connection can be reused."""

    def __enter__(self) -> Transport: ...

    def __exit__(self, *exc: object) -> None: ...

    def send(self, message: Rendered) -> str | None:
        """Send one message; the channel's id for it, if any. Raises
        :class:`TransientFailure` or :class:`PermanentFailure`."""
        ...
