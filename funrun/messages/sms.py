"""SMS through a JSON HTTP gateway (the shape many Indonesian gateways share).

The contract funrun expects of the gateway at ``FUNRUN_SMS_URL``:

Request: ``POST {FUNRUN_SMS_URL}`` with ``Authorization: Bearer <FUNRUN_SMS_TOKEN>``,
``Idempotency-Key: <the message's key>`` and::

    {"to": "+6281234567890", "text": "...", "reference": "<the message's key>"}

``to`` is E.164 with its ``+``. ``text`` is at most three SMS parts, cut at a word and
ended with ``...`` when longer: 459 characters of the GSM 7-bit alphabet (153 a part;
``^{}[]~|€`` and the backslash count two), or 201 when the text needs UCS-2 (67 a part:
an emoji, most accents). ``reference`` and the header carry the idempotency key, so a
gateway that keeps keys answers a repeat with the first message's id instead of sending
it twice.

Answers:

* any 2xx with ``{"id": "..."}``: sent; the id is returned (a 2xx without one is still
  sent, and never tried again);
* 409 with ``{"id": "..."}``: this key was sent before; that id is returned. A 409
  without an id (the first request still in flight) is transient;
* 400 or 422 whose error code is ``invalid_number``, ``invalid_recipient``,
  ``blocked_number`` or ``opted_out``: ``PermanentFailure(bounced=True)``. The code is
  read from ``{"error": {"code": ..., "message": ...}}``, ``{"error": "<code>"}`` or
  ``{"code": "<code>"}``;
* 429: ``TransientFailure`` with the ``Retry-After`` header's seconds (a number or a
  date);
* 5xx, 408, a timeout, a refused or dropped connection: ``TransientFailure``;
* 401, 403 or a redirect: ``TransientFailure``. A wrong token or URL is our
  configuration, not the runner's message: once fixed, queued messages can still go;
* any other 4xx: ``PermanentFailure`` (the message is refused as it is).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from funrun.messages.httpsend import (
    HttpTransport,
    clip,
    endpoint_from_config,
    json_body,
    phone_digits,
    retry_after,
    timeout_from_config,
)
from funrun.messages.transport import PermanentFailure, Rendered, TransientFailure

#: Three concatenated parts: 3 x 153 GSM 7-bit characters, or 3 x 67 UCS-2 code units.
GSM_LIMIT = 459
UCS2_LIMIT = 201
ELLIPSIS = "..."
#: The GSM 03.38 alphabet: one septet each, and the extension table's two.
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED = frozenset("\f^{}\\[~]|€")
BOUNCE_CODES = frozenset({"invalid_number", "invalid_recipient", "blocked_number", "opted_out"})


def is_gsm(text: str) -> bool:
    """Whether ``text`` fits the GSM 7-bit alphabet (else the SMS is UCS-2)."""
    return all(c in GSM_BASIC or c in GSM_EXTENDED for c in text)


def sms_length(text: str) -> int:
    """Septets in GSM 7-bit, else UTF-16 code units (what the part limits count)."""
    if is_gsm(text):
        return sum(2 if c in GSM_EXTENDED else 1 for c in text)
    return len(text.encode("utf-16-le")) // 2


def fit(text: str) -> str:
    """``text`` in at most three SMS parts, cut at a word with ``...`` when longer."""
    text = text.strip()
    gsm = is_gsm(text)
    limit = GSM_LIMIT if gsm else UCS2_LIMIT
    if sms_length(text) <= limit:
        return text
    budget = limit - len(ELLIPSIS)
    cut, used = 0, 0
    for i, c in enumerate(text):
        if gsm:
            used += 2 if c in GSM_EXTENDED else 1
        else:
            used += len(c.encode("utf-16-le")) // 2
        if used > budget:
            break
        cut = i + 1
    head = text[:cut]
    if cut < len(text) and not text[cut].isspace():
        # Back to the last whitespace, so no word (nor a link) is cut in half.
        word_start = max(head.rfind(" "), head.rfind("\n"))
        if word_start > 0:
            head = head[:word_start]
    return head.rstrip() + ELLIPSIS


def error_code(body: Mapping[str, Any]) -> str | None:
    """The gateway's error code, wherever in the body it put it."""
    error = body.get("error")
    if isinstance(error, dict):
        error = error.get("code")
    if not isinstance(error, str):
        error = body.get("code")
    return error.strip().lower() if isinstance(error, str) else None


def error_reason(status: int, body: Mapping[str, Any]) -> str:
    error = body.get("error")
    message = error.get("message") if isinstance(error, dict) else body.get("message")
    said = " ".join(str(x) for x in (error_code(body), message) if x) or "no details"
    return clip(f"sms HTTP {status}: {said}")


def message_id(body: Mapping[str, Any]) -> str | None:
    ident = body.get("id")
    return str(ident) if ident not in (None, "") else None


def answer(response: httpx.Response) -> str | None:
    """The gateway's id for a sent message, else the failure raised."""
    status, body = response.status_code, json_body(response)
    if response.is_success:
        return message_id(body)
    if status == 409 and message_id(body):
        return message_id(body)
    reason = error_reason(status, body)
    if status in (400, 422) and error_code(body) in BOUNCE_CODES:
        raise PermanentFailure(reason, bounced=True)
    if status < 400 or status in (401, 403, 408, 409, 429) or status >= 500:
        raise TransientFailure(reason, retry_after(response))
    raise PermanentFailure(reason)


class SmsTransport(HttpTransport):
    """SMS through the gateway at ``url`` (see the module's docstring)."""

    name = "sms"

    def __enter__(self) -> SmsTransport:
        super().__enter__()
        return self

    def payload(self, message: Rendered) -> dict[str, Any]:
        """The request body for ``message``."""
        text = fit(message.text or "")
        if not text:
            raise PermanentFailure("sms: the message has no text")
        return {"to": "+" + phone_digits(message.to), "text": text, "reference": message.key}

    def send(self, message: Rendered) -> str | None:
        """Send ``message``; the gateway's id for it."""
        response = self.post(self.url, self.payload(message), {"Idempotency-Key": message.key})
        return answer(response)


def from_config(config: Mapping[str, Any]) -> SmsTransport | None:
    """The transport ``FUNRUN_SMS_URL`` and ``FUNRUN_SMS_TOKEN`` describe, or None when
    SMS is not configured."""
    endpoint = endpoint_from_config(config, "FUNRUN_SMS_URL", "FUNRUN_SMS_TOKEN")
    if endpoint is None:
        return None
    url, token = endpoint
    return SmsTransport(url, token, timeout=timeout_from_config(config))
