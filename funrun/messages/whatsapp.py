"""WhatsApp Business Cloud API: approved template messages, one POST each.

``POST {FUNRUN_WHATSAPP_URL}/messages`` where the URL is the sending number's node, e.g.
``https://graph.facebook.com/v21.0/<phone-number-id>``, with ``Authorization: Bearer
<FUNRUN_WHATSAPP_TOKEN>`` and::

    {"messaging_product": "whatsapp", "recipient_type": "individual",
     "to": "6281234567890", "type": "template",
     "template": {"name": "...", "language": {"code": "id"},
                  "components": [{"type": "body",
                                  "parameters": [{"type": "text", "text": "..."}]}]},
     "biz_opaque_callback_data": "<the message's idempotency key>"}

A 200 answers ``{"messages": [{"id": "wamid..."}]}``: that id is returned. The Cloud API
has no idempotency header; the key goes in ``biz_opaque_callback_data``, which Meta hands
back in every status webhook of the message, so a message repeated after a crash can be
recognised there.

Errors answer ``{"error": {"message", "type", "code", "error_data": {"details"},
"fbtrace_id"}}``; Meta asks that handling follow ``code`` (the HTTP status and
``error_subcode`` are less telling), and so does :func:`classify`:

* the recipient cannot get WhatsApp messages (131026: not on WhatsApp, terms not
  accepted, an old app; 131021: our own number; 131050: stopped our messages):
  ``PermanentFailure(bounced=True)``, never tried again on that number;
* the message itself is refused (the template does not exist in that language, its
  parameters do not match, it was disabled; an invalid or missing parameter):
  ``PermanentFailure``, not bounced; trying again sends the same refused message;
* throughput limits (HTTP 429; 4, 80007, 130429, 131048, 131056), Meta's own trouble
  (HTTP 5xx; 1, 2, 131000, 131016, 133004), a paused template (132015: Meta pauses a
  low-quality template for 3 then 6 hours): ``TransientFailure``, with the
  ``Retry-After`` header's seconds when Meta sends one;
* the account or its token (0, 190: token expired or revoked; 3, 10, 200-299: a missing
  permission; 131005; 131031, 368: the account locked or restricted; 131042: payment;
  133010, 33: the sending number not registered or deleted): ``TransientFailure``. These
  are our configuration, not the runner's message: once someone fixes the token or the
  account, every queued message can still go, so they wait and are retried with backoff
  (and show as failed, with this reason, if nobody fixes it before the last try).

Codes not listed fall back on the HTTP status: 408, 429 and 5xx transient; 401, 403 and
a redirect transient (configuration, as above); any other 4xx permanent.
"""

from __future__ import annotations

import re
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

#: The recipient cannot receive WhatsApp messages from us: the number is refused for good.
BOUNCED = frozenset({131021, 131026, 131050})
#: The message as rendered is refused; trying it again changes nothing.
REFUSED = frozenset(
    {
        100,  # invalid parameter
        131008,  # required parameter missing
        131009,  # parameter value not valid
        131030,  # recipient not in the test number's allowed list (a test account)
        131047,  # more than 24 hours since the runner wrote (only templates may go)
        131051,  # unsupported message type
        132000,  # number of parameters does not match the template
        132001,  # template does not exist in that language
        132005,  # text too long once filled in
        132007,  # template format character policy violated
        132012,  # parameter format does not match the template
        132016,  # template disabled for good
        135000,  # generic user error
    }
)
#: Too much too fast, or Meta's own trouble: try again later.
LATER = frozenset({1, 2, 4, 80007, 130429, 131000, 131016, 131048, 131056, 132015, 133004})
#: Our token, permissions or account: retried until someone fixes the configuration.
CONFIGURATION = frozenset({0, 3, 10, 33, 190, 368, 131005, 131031, 131042, 133010})


def classify(status: int, body: Mapping[str, Any], wait: float | None = None) -> Exception:
    """The failure an error answer means (see the module's docstring)."""
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    code = error.get("code")
    code = code if isinstance(code, int) else None
    data = error.get("error_data")
    details = data.get("details") if isinstance(data, dict) else None
    said = " ".join(str(x) for x in (error.get("message"), details) if x) or f"HTTP {status}"
    reason = clip(f"whatsapp {code if code is not None else status}: {said}")
    if code in BOUNCED:
        return PermanentFailure(reason, bounced=True)
    if code in REFUSED:
        return PermanentFailure(reason)
    if code in LATER or code in CONFIGURATION or (code is not None and 200 <= code <= 299):
        return TransientFailure(reason, wait)
    if status < 400 or status in (401, 403, 408, 429) or status >= 500:
        return TransientFailure(reason, wait)
    return PermanentFailure(reason)


def parameter_text(value: str) -> str:
    """A body parameter as Meta accepts it: no new lines or tabs, at most four spaces
    in a row (else the whole message is refused)."""
    return re.sub(r" {5,}", "    ", re.sub(r"[\r\n\t]+", " ", str(value))).strip() or "-"


class WhatsAppTransport(HttpTransport):
    """Template messages through the WhatsApp Business Cloud API."""

    name = "whatsapp"

    def __init__(self, url: str, token: str, **kwargs: Any) -> None:
        url = url.rstrip("/").removesuffix("/messages")
        super().__init__(url, token, **kwargs)
        self.messages_url = f"{url}/messages"

    def __enter__(self) -> WhatsAppTransport:
        super().__enter__()
        return self

    def payload(self, message: Rendered) -> dict[str, Any]:
        """The request body for ``message``."""
        if not message.template:
            raise PermanentFailure("whatsapp: no approved template for this message")
        template: dict[str, Any] = {
            "name": message.template,
            "language": {"code": message.language},
        }
        if message.parameters:
            template["components"] = [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": parameter_text(p)} for p in message.parameters
                    ],
                }
            ]
        return {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": phone_digits(message.to),
            "type": "template",
            "template": template,
            "biz_opaque_callback_data": message.key,
        }

    def send(self, message: Rendered) -> str | None:
        """Send ``message``; Meta's ``wamid`` for it."""
        response = self.post(self.messages_url, self.payload(message))
        return answer(response)


def answer(response: httpx.Response) -> str | None:
    """The message id of a success, else the failure raised."""
    body = json_body(response)
    if response.is_success:
        # Accepted: never tried again, even when the id is missing (a repeat would be a
        # second message to the runner).
        messages = body.get("messages")
        if isinstance(messages, list) and messages and isinstance(messages[0], dict):
            ident = messages[0].get("id")
            return str(ident) if ident else None
        return None
    raise classify(response.status_code, body, retry_after(response))


def from_config(config: Mapping[str, Any]) -> WhatsAppTransport | None:
    """The transport ``FUNRUN_WHATSAPP_URL`` and ``FUNRUN_WHATSAPP_TOKEN`` describe, or
    None when WhatsApp is not configured."""
    endpoint = endpoint_from_config(config, "FUNRUN_WHATSAPP_URL", "FUNRUN_WHATSAPP_TOKEN")
    if endpoint is None:
        return None
    url, token = endpoint
    return WhatsAppTransport(url, token, timeout=timeout_from_config(config))
