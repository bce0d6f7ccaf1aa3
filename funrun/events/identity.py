"""The tour's identity: the organiser's and scheme's names, colours and logo.

Set per tour by organisers (:mod:`funrun.events.identity_views`), shown on every public
page: the names in the header and footer, the colours through a small stylesheet of CSS
custom properties (``/tours/<slug>/theme.css``; the CSP allows no inline style), the logo
served from the app (``/tours/<slug>/logo``).

Logos are PNG only. An SVG is a document that can carry scripts, external references and
entity expansions; safe parsing needs a hardened XML parser this app does not ship, so
SVG is refused rather than half-checked. A PNG is checked by content, never by the
uploaded name or type: the signature, then an ``IHDR`` chunk first with sane dimensions,
at most :data:`MAX_LOGO_BYTES`.
"""

from __future__ import annotations

import hashlib
import re
import struct
import zlib
from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from funrun.audit.services import current_user_id, record
from funrun.events.models import Tour
from funrun.extensions import db
from funrun.registration import terms_cache

MAX_LOGO_BYTES = 100 * 1024
#: A logo wider or taller than this is not a logo (and costs phones memory to decode).
MAX_LOGO_PIXELS = 2048
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
COLOUR = re.compile(r"#[0-9A-Fa-f]{6}")
#: What a tour's colours are when none was set (the app's own green and gold).
DEFAULT_COLOUR, DEFAULT_ACCENT = "#0A7A3D", "#F2A900"


class IdentityError(ValueError):
    """A value of the identity form that cannot be kept: ``field`` and a message."""

    def __init__(self, field: str, message: object) -> None:
        super().__init__(str(message))
        self.field = field
        self.message = message


def clean_colour(value: object, field: str) -> str:
    """A colour as ``#RRGGBB`` in capitals, or :class:`IdentityError`."""
    text = value.strip() if isinstance(value, str) else ""
    if not COLOUR.fullmatch(text):
        raise IdentityError(field, _l("Enter a colour as # and six hex digits, e.g. #0A7A3D."))
    return text.upper()


def check_png(data: bytes) -> None:
    """Raise :class:`IdentityError` unless ``data`` is a PNG of a logo's size."""
    if len(data) > MAX_LOGO_BYTES:
        raise IdentityError("logo", _l("The logo is too big: at most 100 KB."))
    if not data:
        raise IdentityError("logo", _l("The file is empty."))
    if not data.startswith(PNG_SIGNATURE) or len(data) < 33:
        raise IdentityError("logo", _l("The logo must be a PNG image."))
    length, kind = struct.unpack(">I4s", data[8:16])
    width, height = struct.unpack(">II", data[16:24])
    crc = struct.unpack(">I", data[29:33])[0]
    if kind != b"IHDR" or length != 13 or zlib.crc32(data[12:29]) != crc:
        raise IdentityError("logo", _l("The logo must be a PNG image."))
    if not (1 <= width <= MAX_LOGO_PIXELS and 1 <= height <= MAX_LOGO_PIXELS):
        raise IdentityError("logo", _l("The logo must be at most 2048 pixels on each side."))
    if b"IEND" not in data[-12:]:
        raise IdentityError("logo", _l("The logo must be a PNG image."))


@dataclass(frozen=True)
class Brand:
    """What every public page shows of the current tour (no logo bytes)."""

    slug: str
    name: str
    organiser: str
    scheme_name: str | None
    colour: str
    accent_colour: str
    has_logo: bool
    #: Changes when the colours or logo change: the theme and logo URLs carry it.
    version: str


def site_brand_now() -> Brand | None:
    """The newest tour's brand, which every public page shows: remembered for a few
    seconds per process as registration terms are (a rush's pages read no tour row), so
    another process's edit shows within FUNRUN_TERMS_CACHE_SECONDS."""
    seconds = current_app.config["FUNRUN_TERMS_CACHE_SECONDS"]

    def load() -> tuple[Brand | None, Brand | None]:
        brand = brand_of()
        return brand, brand

    # No event has an empty slug: this key is the brand's alone.
    return terms_cache.remembered((str(db.engine.url), "", "brand"), seconds, load)[0]


def brand_of(tour_id: int | None = None) -> Brand | None:
    """The brand of a tour (the newest when not given), read without the logo bytes."""
    query = select(
        Tour.slug,
        Tour.name,
        Tour.organiser,
        Tour.scheme_name,
        Tour.colour,
        Tour.accent_colour,
        Tour.logo_type,
        func.length(Tour.logo),
    )
    query = (
        query.where(Tour.id == tour_id)
        if tour_id is not None
        else query.order_by(Tour.id.desc()).limit(1)
    )
    row = db.session.execute(query).first()
    if row is None:
        return None
    slug, name, organiser, scheme, colour, accent, logo_type, size = row
    colour, accent = colour or DEFAULT_COLOUR, accent or DEFAULT_ACCENT
    stamp = f"{colour}{accent}{logo_type}{size}".encode()
    return Brand(
        slug=slug,
        name=name,
        organiser=organiser,
        scheme_name=scheme,
        colour=colour,
        accent_colour=accent,
        has_logo=bool(size),
        version=hashlib.sha256(stamp).hexdigest()[:10],
    )


def theme_css(brand: Brand) -> str:
    """The tour's stylesheet: its colours as the custom properties app.css uses."""
    return (
        ":root{"
        f"--brand:{brand.colour};--accent:{brand.accent_colour};"
        f"--brand-ink:{ink_on(brand.colour)};"
        "}\n"
    )


def ink_on(colour: str) -> str:
    """White or near-black text, whichever reads better on ``colour`` (WCAG luminance)."""

    def channel(hex_pair: str) -> float:
        value = int(hex_pair, 16) / 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(colour[i : i + 2]) for i in (1, 3, 5))
    luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    return "#fff" if (1.05 / (luminance + 0.05)) >= ((luminance + 0.05) / 0.05) else "#111"


def save_identity(
    tour: Tour,
    *,
    organiser: str,
    scheme_name: str | None,
    colour: str,
    accent_colour: str,
    logo: bytes | None = None,
    remove_logo: bool = False,
) -> None:
    """Keep the checked values (and a new PNG logo, or none), audited, and commit."""
    tour.organiser = organiser
    tour.scheme_name = scheme_name or None
    tour.colour = colour
    tour.accent_colour = accent_colour
    if logo is not None:
        check_png(logo)
        tour.logo, tour.logo_type = logo, "image/png"
    elif remove_logo:
        tour.logo, tour.logo_type = None, None
    record("tour_edit", user_id=current_user_id(), target=tour.slug)
    db.session.commit()
    terms_cache.forget()  # this process's pages show the new identity at once
