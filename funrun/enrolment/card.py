"""The membership card: a credit-card-sized PDF with the participant number and a signed QR.

The QR carries ``FRM1<kid>:<participant number>:<signature>``, an Ed25519 signature by
the same key that signs bib payloads (so scanners already hold the public key) over a
message that can never be mistaken for a bib's (bibs start with ``FR1``). Unpadded
base32 keeps it in the QR's alphanumeric mode.
"""

from __future__ import annotations

import base64
import io
import re
import textwrap
from dataclasses import dataclass
from datetime import date

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from funrun.bibs.pdf import MONTHS_ID, draw_qr
from funrun.bibs.pdfwriter import Page, StreamingPdf
from funrun.bibs.qr import dark_runs
from funrun.bibs.signing import bib_signer, key_id, load_private_key, sign, signature_is_valid
from funrun.enrolment.wording import period_text

MM = 72 / 25.4
CARD_SIZE = (85.6 * MM, 54 * MM)  # ID-1, the size of a bank card
QR_SIDE = 30 * MM
CARD_VERSION = "FRM1"
_CARD = re.compile(r"FRM1([A-Z2-7]{2}):([0-9]{11}):([A-Z2-7]{103})")


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode().rstrip("=")


def card_payload(participant_number: str) -> str:
    """The signed QR payload of a membership card."""
    key = current_app.extensions.get("funrun_card_key")
    if key is None:
        key = load_private_key(str(current_app.config["FUNRUN_SIGNING_KEY"]))
        current_app.extensions["funrun_card_key"] = key
    message = f"{CARD_VERSION}{key_id(key.verify_key)}:{participant_number}"
    return f"{message}:{_b32(sign(key, message.encode()))}"


def verify_card_payload(payload: str) -> str | None:
    """The participant number of a genuine card payload, else None."""
    match = _CARD.fullmatch(payload) if isinstance(payload, str) else None
    if match is None:
        return None
    kid, number, signature = match.groups()
    key = bib_signer().keys.get(kid)
    if key is None:
        return None
    try:
        raw = base64.b32decode(signature + "=" * (-len(signature) % 8))
    except ValueError:
        return None
    if not signature_is_valid(key, raw, payload[: payload.rindex(":")].encode()):
        return None
    return number if _b32(raw) == signature else None


@dataclass(frozen=True)
class CardFace:
    """What a membership card shows."""

    organiser: str
    participant_number: str
    full_name: str
    programmes: tuple[str, ...]
    valid_from: date
    paid_until: date
    colour: str


def _date_text(day: date) -> str:
    return f"{day.day} {MONTHS_ID[day.month - 1]} {day.year}"


def coverage_text(face: CardFace) -> str:
    """``Masa iuran: Desember 2026 - Februari 2027``: the months the contribution covers
    (from the month of ``valid_from`` to the month of ``paid_until``), in Indonesian."""
    with force_locale("id"):
        return _(
            "Contribution period: %(months)s", months=period_text(face.valid_from, face.paid_until)
        )


def _spaced(number: str) -> str:
    """``12345678901`` as ``1234 5678 901``, easier to read out."""
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4))


def card_page(face: CardFace, payload: str) -> Page:
    """The front of the card: organiser band, number, name, programmes, dates, QR."""
    width, height = CARD_SIZE
    page = Page(width, height)
    page.fill_colour(face.colour)
    page.rect(0, height - 11 * MM, width, 11 * MM)
    page.fill_colour("#FFFFFF")
    page.text("Helvetica-Bold", 9, 4 * MM, height - 5.5 * MM, face.organiser[:40])
    page.text("Helvetica", 6.5, 4 * MM, height - 9 * MM, "KARTU PESERTA / MEMBERSHIP CARD")
    page.fill_colour("#000000")
    left = 4 * MM
    page.text("Helvetica", 6, left, 39.5 * MM, "No. Peserta / Participant no.")
    page.text("Helvetica-Bold", 12, left, 34.5 * MM, _spaced(face.participant_number))
    # The left column ends where the QR's quiet zone begins: long names take two lines.
    for i, line in enumerate(textwrap.wrap(face.full_name.upper(), 22)[:2]):
        page.text("Helvetica-Bold", 8, left, (29.5 - 3.5 * i) * MM, line)
    page.text("Helvetica", 6, left, 21 * MM, "Program / Programmes")
    page.text("Helvetica-Bold", 8.5, left, 17.5 * MM, " - ".join(face.programmes))
    page.text("Helvetica", 6, left, 13 * MM, "Berlaku mulai / Valid from")
    page.text("Helvetica-Bold", 8.5, left, 9.5 * MM, _date_text(face.valid_from))
    page.text("Helvetica", 5.5, left, 5.5 * MM, coverage_text(face))
    paid = f"Iuran dibayar s.d. / Paid until {_date_text(face.paid_until)}"
    page.text("Helvetica", 5.5, left, 3 * MM, paid)
    draw_qr(page, dark_runs(payload), width - QR_SIDE - 4 * MM, 6 * MM, QR_SIDE)
    return page


def card_pdf(face: CardFace) -> bytes:
    """The membership card as a one-page PDF."""
    buffer = io.BytesIO()
    pdf = StreamingPdf(buffer, title=f"Kartu peserta {face.participant_number}")
    pdf.add_page(card_page(face, card_payload(face.participant_number)))
    pdf.close()
    return buffer.getvalue()
