"""What the HTTP providers' transports share (WhatsApp Cloud API, the SMS gateway).

One :class:`httpx.Client` per ``with`` block, so a batch reuses one connection; explicit
connect, read, write and pool timeouts (``FUNRUN_MESSAGE_TIMEOUT``, 10 s by default, for
each phase), so a provider that hangs holds the sender about that long, not for ever.
``HTTPS_PROXY`` and ``NO_PROXY`` are honoured (a server whose way out is a proxy).
Nothing here sleeps: a ``Retry-After`` is handed to the sender as
:attr:`TransientFailure.retry_after` and the sender decides when to try again.

A failure to connect means nothing was sent; a timeout or a dropped connection after the
request went out may mean the provider sent it anyway. Both are transient: the sender
tries again, and the message's idempotency key (which each provider is shown) lets a
repeat be recognised.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from funrun.messages.transport import PermanentFailure, TransientFailure

DEFAULT_TIMEOUT = 10.0
#: Hosts a provider URL may name over plain http (a gateway on this machine, tests).
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
#: What a stored reason may hold (the message table's error column holds 500).
REASON_LENGTH = 300
_E164 = re.compile(r"\+?[1-9][0-9]{7,14}")
_PHONE_LIKE = re.compile(r"\+?\d{8,}")


def timeout_from_config(config: Mapping[str, Any]) -> float:
    """``FUNRUN_MESSAGE_TIMEOUT`` in seconds (10 without it); a clear error when bad."""
    raw = config.get("FUNRUN_MESSAGE_TIMEOUT")
    if raw is None or raw == "":
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ValueError(
            f"FUNRUN_MESSAGE_TIMEOUT must be a number of seconds, not {raw!r}"
        ) from None
    if not math.isfinite(value) or not 0 < value <= 120:
        raise ValueError(f"FUNRUN_MESSAGE_TIMEOUT must be between 0 and 120 seconds, not {raw!r}")
    return value


def endpoint_from_config(
    config: Mapping[str, Any], url_key: str, token_key: str
) -> tuple[str, str] | None:
    """``(url, token)`` from ``config``; None when neither is set.

    One without the other, or a token sent in the clear to another machine, is an error
    rather than a channel silently left off.
    """
    url = str(config.get(url_key) or "").strip()
    token = str(config.get(token_key) or "").strip()
    if not url and not token:
        return None
    if not url or not token:
        missing = url_key if not url else token_key
        raise ValueError(f"{missing} must be set too: {url_key} and {token_key} go together")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"{url_key} must be an https:// URL, not {url!r}")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK:
        raise ValueError(f"{url_key} must use https:// (the token would travel in the clear)")
    return url.rstrip("/"), token


def phone_digits(to: str) -> str:
    """The E.164 number's digits (``+6281234567890`` -> ``6281234567890``).

    A number that cannot be one is refused for good (``bounced``), without asking the
    provider.
    """
    cleaned = re.sub(r"[\s\-().]", "", to or "")
    if not _E164.fullmatch(cleaned):
        raise PermanentFailure("not an international phone number", bounced=True)
    return cleaned.removeprefix("+")


def retry_after(response: httpx.Response) -> float | None:
    """The ``Retry-After`` header in seconds (a number or an HTTP date), if usable."""
    raw = response.headers.get("retry-after", "").strip()
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def json_body(response: httpx.Response) -> dict[str, Any]:
    """The response's JSON object, or ``{}`` when it is not one."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def clip(reason: str) -> str:
    """A reason short enough to store, with any phone number in it masked (a provider
    may quote the number it refused; the message table keeps only its last digits)."""
    reason = _PHONE_LIKE.sub(lambda m: "***" + m.group()[-3:], " ".join(reason.split()))
    return reason if len(reason) <= REASON_LENGTH else reason[: REASON_LENGTH - 3] + "..."


class HttpTransport:
    """A provider reached by one JSON POST per message, with a bearer token."""

    #: For reasons: which provider said it.
    name = "http"

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url
        self._token = token
        self.timeout = httpx.Timeout(timeout)
        self._transport = transport
        self._client: httpx.Client | None = None

    def __repr__(self) -> str:  # never the token
        return f"<{type(self).__name__} {self.url}>"

    def _new_client(self) -> httpx.Client:
        return httpx.Client(
            timeout=self.timeout,
            transport=self._transport,
            headers={"Authorization": f"Bearer {self._token}", "Accept": "application/json"},
            follow_redirects=False,
        )

    def __enter__(self) -> HttpTransport:
        if self._client is None:
            self._client = self._new_client()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def post(
        self, url: str, payload: dict[str, Any], headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        """POST ``payload``; transport errors become :class:`TransientFailure`.

        Outside a ``with`` block a client is opened for this one request.
        """
        if self._client is None:
            with self._new_client() as client:
                return self._post(client, url, payload, headers)
        return self._post(self._client, url, payload, headers)

    def _post(
        self,
        client: httpx.Client,
        url: str,
        payload: dict[str, Any],
        headers: Mapping[str, str] | None,
    ) -> httpx.Response:
        try:
            return client.post(url, json=payload, headers=dict(headers or {}))
        except httpx.ConnectTimeout:
            raise TransientFailure(f"{self.name}: timed out connecting") from None
        except httpx.TimeoutException as exc:
            raise TransientFailure(f"{self.name}: timed out ({type(exc).__name__})") from None
        except httpx.ConnectError as exc:
            raise TransientFailure(clip(f"{self.name}: cannot connect: {exc}")) from None
        except httpx.TransportError as exc:
            raise TransientFailure(clip(f"{self.name}: {type(exc).__name__}: {exc}")) from None
