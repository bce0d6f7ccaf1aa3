"""A message rendered for its channel: e-mail (text, HTML, the bib PDF attached),
WhatsApp (an approved template and its parameters) or SMS (the text)."""

from __future__ import annotations

from flask import current_app

from funrun.messages.facts import Facts
from funrun.messages.models import Channel, MessageKind
from funrun.messages.transport import Attachment, Rendered
from funrun.messages.wording import Wording, word

#: Kinds whose e-mail carries the bib and e-ticket PDF.
WITH_BIB = frozenset(
    {MessageKind.CONFIRMED, MessageKind.PROMOTED, MessageKind.REMINDER, MessageKind.BALLOT_WON}
)

#: WhatsApp template of every kind: ``funrun_<kind>``, approved in each language with four
#: body parameters: {{1}} the runner's name, {{2}} the subject line, {{3}} the facts
#: ("Bib number: JKT 0042 · When: ... · Where: ..."), {{4}} the private link (or "-").
WHATSAPP_TEMPLATE = "funrun_{kind}"


def address(facts: Facts, channel: Channel) -> str | None:
    """Where the message goes on ``channel``; None when the runner has no such address
    (or asked a link recovery by the other one)."""
    if channel == Channel.EMAIL:
        return facts.email if facts.via in (None, "email") else None
    return facts.phone if facts.via in (None, "phone") else None


def email_html(wording: Wording, facts: Facts, colour: str = "#0A7A3D") -> str:
    """The e-mail's HTML part (also the preview organisers see): the template alone, with
    none of the pages' context (no request: the worker renders it)."""
    return current_app.jinja_env.get_template("messages/email.html").render(
        wording=wording,
        lang=facts.locale,
        event_name=facts.event_name,
        colour=colour,
    )


def render(
    key: str,
    facts: Facts,
    channel: Channel,
    *,
    bib_pdf: bytes | None = None,
    colour: str = "#0A7A3D",
) -> Rendered | None:
    """The message for ``channel``; None when it has nowhere to go."""
    to = address(facts, channel)
    if not to:
        return None
    wording = word(facts)
    text = wording.text()
    if channel == Channel.EMAIL:
        attachments = ()
        if bib_pdf is not None and facts.kind in WITH_BIB:
            filename = f"bib-{(facts.bib or 'e-ticket').replace(' ', '-')}.pdf"
            attachments = (Attachment(filename, "application/pdf", bib_pdf),)
        return Rendered(
            key=key,
            to=to,
            subject=wording.subject,
            text=text,
            html=email_html(wording, facts, colour),
            attachments=attachments,
            language=facts.locale,
        )
    details = " · ".join(f"{label}: {value}" for label, value in wording.rows)
    return Rendered(
        key=key,
        to=to,
        subject=wording.subject,
        text=text,
        template=WHATSAPP_TEMPLATE.format(kind=facts.kind.value),
        language=facts.locale,
        parameters=(facts.name, wording.subject, details or "-", wording.link or "-"),
    )
