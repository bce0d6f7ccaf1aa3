"""E-mail: messages built with the standard library's ``email`` package (MIME structure,
header encoding, attachments) and sent with ``smtplib`` over one connection per batch.

``FUNRUN_SMTP_URL``:

* ``smtp://user:pass@host:587``: STARTTLS before anything else (refused if the server
  does not offer it), then the login;
* ``smtps://user:pass@host:465``: TLS from the first byte;
* ``smtp://host:25?tls=none``: plain, for a relay on the same machine or a test server
  on loopback (credentials are refused on it).

Without it, development and tests keep messages in the app's outbox
(:class:`OutboxTransport`); production refuses to start unless ``FUNRUN_MESSAGES=off``.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email import encoders
from email.header import Header
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import formatdate, parseaddr
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from funrun.messages.transport import PermanentFailure, Rendered, TransientFailure

DEFAULT_SENDER = "Fun Run <no-reply@funrun.invalid>"
#: How a message is written for SMTP: CRLF line ends (smtplib sends bytes as they are).
_WIRE = compat32.clone(linesep="\r\n")


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to reach the SMTP server."""

    host: str
    port: int
    security: str  # "starttls", "tls" or "none"
    username: str | None
    password: str | None
    timeout: float

    @classmethod
    def from_url(cls, url: str, timeout: float = 10.0) -> SmtpSettings:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("FUNRUN_SMTP_URL must look like smtp://user:pass@host:587")
        query = parse_qs(parts.query)
        security = "tls" if parts.scheme == "smtps" else "starttls"
        if query.get("tls", [""])[0].lower() == "none":
            security = "none"
        username = unquote(parts.username) if parts.username else None
        if username and security == "none":
            raise ValueError("FUNRUN_SMTP_URL: no password is sent over a plain connection")
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if security == "tls" else 587 if username else 25),
            security=security,
            username=username,
            password=unquote(parts.password) if parts.password else None,
            timeout=timeout,
        )


def message_id(key: str, sender: str) -> str:
    """A Message-ID made from the idempotency key: the same message sent twice (a worker
    died between sending and recording) carries the same id, so mail software can tell."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "funrun.invalid"
    left = "".join(ch if ch.isalnum() or ch in "-_" else "." for ch in key)
    return f"<{left}@{domain}>"


def build(message: Rendered, sender: str) -> Message:
    """The MIME message: text and HTML alternatives, then the attachments.

    Built with the package's MIME classes (the compat32 policy): what reaches the wire is
    the same as with ``EmailMessage``, at less than half the cost (no header registry:
    bench/README.md, "Messages"), which matters for a worker sending thousands an hour.
    """
    body = MIMEText(message.text, "plain", "utf-8")
    if message.html:
        alternatives = MIMEMultipart("alternative")
        alternatives.attach(body)
        alternatives.attach(MIMEText(message.html, "html", "utf-8"))
        body = alternatives  # type: ignore[assignment]
    mail: Message = body
    if message.attachments:
        mail = MIMEMultipart("mixed")
        mail.attach(body)
        for attachment in message.attachments:
            maintype, _slash, subtype = attachment.content_type.partition("/")
            part = MIMEBase(maintype, subtype)
            part.set_payload(attachment.data)
            encoders.encode_base64(part)
            part.add_header("Content-Disposition", "attachment", filename=attachment.filename)
            mail.attach(part)
    mail["From"] = sender
    mail["To"] = message.to
    mail["Subject"] = Header(message.subject, "utf-8")
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = message_id(message.key, sender)
    mail["Content-Language"] = message.language
    mail["X-Funrun-Key"] = message.key
    return mail


class SmtpTransport:
    """Sends e-mail over one SMTP connection, opened at the first message of a batch."""

    def __init__(self, settings: SmtpSettings, sender: str = DEFAULT_SENDER) -> None:
        self.settings = settings
        self.sender = sender
        self._envelope_sender = parseaddr(sender)[1]
        self._smtp: smtplib.SMTP | None = None

    def __repr__(self) -> str:  # never the password
        return f"SmtpTransport({self.settings.host}:{self.settings.port})"

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self._close()

    def _close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        try:
            if s.security == "tls":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.host, s.port, timeout=s.timeout, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
                if s.security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
            if s.username:
                smtp.login(s.username, s.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise TransientFailure(
                f"SMTP login refused ({exc.smtp_code}): check FUNRUN_SMTP_URL"
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise TransientFailure(f"SMTP server offers no STARTTLS: {exc}") from None
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            raise TransientFailure(
                f"SMTP server unreachable: {type(exc).__name__}: {exc}"
            ) from None
        return smtp

    def send(self, message: Rendered) -> str | None:
        if self._smtp is None:
            self._smtp = self._connect()
        mail = build(message, self.sender)
        try:
            self._smtp.sendmail(self._envelope_sender, [message.to], mail.as_bytes(policy=_WIRE))
        except smtplib.SMTPRecipientsRefused as exc:
            code, reason = next(iter(exc.recipients.values()))
            text = f"{code} {_text(reason)}"
            if 500 <= code < 600:
                raise PermanentFailure(f"address refused: {text}", bounced=True) from None
            raise TransientFailure(f"address deferred: {text}") from None
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            text = f"{exc.smtp_code} {_text(exc.smtp_error)}"
            if 500 <= exc.smtp_code < 600:
                raise PermanentFailure(f"message refused: {text}") from None
            raise TransientFailure(f"message deferred: {text}") from None
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            self._drop()
            raise TransientFailure(f"SMTP connection lost: {type(exc).__name__}: {exc}") from None
        return str(mail["Message-ID"])

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class OutboxTransport:
    """Development without SMTP: the message stays in the app's outbox, where staff read
    it (Messages page). Nothing leaves the machine."""

    def __enter__(self) -> OutboxTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def send(self, message: Rendered) -> str | None:
        return None


def from_config(config: Mapping[str, Any]) -> SmtpTransport | OutboxTransport:
    """The e-mail transport ``config`` asks for."""
    url = config.get("FUNRUN_SMTP_URL")
    if not url:
        return OutboxTransport()
    timeout = float(config.get("FUNRUN_MESSAGE_TIMEOUT") or 10)
    sender = config.get("FUNRUN_MAIL_FROM") or DEFAULT_SENDER
    return SmtpTransport(SmtpSettings.from_url(url, timeout), sender)
