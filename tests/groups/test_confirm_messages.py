"""The group member's messages (issue 20): GROUP_INVITE ("<partner> registered you for
<event> in <city> on <date>; your place (bib N) is held until <date>: confirm it and give
your consent at <link>, or let it go") and HOLD_EXPIRED, in both languages, on e-mail
and as the WhatsApp template's four parameters; and the staff preview of both."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from funrun.dbtypes import utcnow
from funrun.events.models import Event
from funrun.extensions import db
from funrun.groups import expiry
from funrun.messages.facts import facts_for
from funrun.messages.models import Channel, Message, MessageKind
from funrun.messages.queueing import queue_for
from funrun.messages.rendering import render
from tests.groups.held_rows import make_held, make_import, make_partner


def queued(registration_id: int, kind: MessageKind) -> Message:
    return db.session.scalars(
        select(Message).where(
            Message.registration_id == registration_id,
            Message.kind == kind.value,
            Message.channel == Channel.EMAIL.value,
        )
    ).one()


@pytest.mark.parametrize(
    ("locale", "words"),
    [
        ("id", ("mendaftarkan Anda ke", "disimpan sampai", "Minggu, 13 Desember 2026", "Solo")),
        ("en", ("registered you for", "is held until", "Sunday, December 13, 2026", "Solo")),
    ],
)
def test_the_invite_names_partner_event_city_date_bib_deadline_and_link(
    app: Flask, make_event: Callable[..., Event], locale: str, words: tuple[str, ...]
):
    app.config["FUNRUN_WHATSAPP_URL"] = "https://graph.example/v21.0/1"
    try:
        event = make_event(name="Fun Run Solo", city="Solo")
        partner = make_partner()
        batch = make_import(event, partner)
        held = make_held(event.id, batch.id, partner.id, 1, locale=locale)
        queue_for(MessageKind.GROUP_INVITE, held.id)
        db.session.commit()
        message = queued(held.id, MessageKind.GROUP_INVITE)
        facts = facts_for(message)
        assert facts is not None and facts.bib == "TST 0001"
        mail = render(message.key, facts, Channel.EMAIL, bib_pdf=b"%PDF")
        assert mail is not None
        assert mail.attachments == ()  # no bib PDF until the member confirms
        for text in (mail.text, mail.html or ""):
            assert "Koperasi Ojek Sejahtera" in text and "Fun Run Solo" in text
            assert "TST 0001" in text and f"/r/{held.token}" in text
            for word in words:
                assert word in text, (word, locale)
        assert held.nik not in mail.text and held.nik not in (mail.html or "")
        whatsapp = render(message.key, facts, Channel.WHATSAPP)
        assert whatsapp is not None and whatsapp.template == "funrun_group_invite"
        name, subject, details, link = whatsapp.parameters
        assert name == "Siti Rahmawati"
        assert "Koperasi Ojek Sejahtera" in subject and "TST 0001" in details
        assert link.endswith(f"/r/{held.token}")
    finally:
        app.config.pop("FUNRUN_WHATSAPP_URL")


@pytest.mark.parametrize(
    ("locale", "words"),
    [
        ("id", ("sudah dilepas karena tidak dikonfirmasi sampai", "daftar tunggu")),
        ("en", ("went back because it was not confirmed by", "waitlist")),
    ],
)
def test_hold_expired_says_the_place_went_back_and_when(
    app: Flask, make_event: Callable[..., Event], locale: str, words: tuple[str, ...]
):
    event = make_event(name="Fun Run Solo", city="Solo")
    partner = make_partner()
    batch = make_import(event, partner)
    held = make_held(
        event.id, batch.id, partner.id, 1, expires_at=utcnow() - timedelta(hours=1), locale=locale
    )
    assert expiry.release_due() == 1
    message = queued(held.id, MessageKind.HOLD_EXPIRED)
    facts = facts_for(message)
    assert facts is not None and facts.hold_until is not None
    mail = render(message.key, facts, Channel.EMAIL, bib_pdf=b"%PDF")
    assert mail is not None and mail.attachments == ()
    for word in words:
        assert word in mail.text
    assert "Fun Run Solo" in mail.subject


def test_the_staff_preview_shows_both_kinds_in_both_languages(app: Flask):
    from funrun.accounts.services import create_user
    from tests.checkin.conftest import browser, login

    create_user("org@example.org", "organiser", password="correct horse battery")
    client = browser(app)
    assert login(client, "org@example.org").status_code == 302
    for kind in ("group_invite", "hold_expired"):
        for lang in ("id", "en"):
            page = client.get(f"/staff/messages/preview?kind={kind}&lang={lang}")
            assert page.status_code == 200, (kind, lang)
            html = page.get_data(as_text=True)
            assert "Koperasi Ojek Sejahtera" in html or kind == "hold_expired"
            assert "funrun_" + kind in html
