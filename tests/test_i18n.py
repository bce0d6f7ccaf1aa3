"""Bahasa Indonesia first, English on request: complete catalogues, and pages that use them.

The catalogue tests re-extract the messages from the current source, so a string added
without a translation fails here. To bring the catalogues up to date:

    .venv/bin/pybabel extract -F babel.cfg -k _l -o translations/messages.pot \\
        --no-location --sort-output .
    .venv/bin/pybabel update -d translations -i translations/messages.pot --no-fuzzy-matching
    # translate the new entries in translations/id (English: msgstr = msgid), then
    .venv/bin/pybabel compile -d translations      # or: make translations
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient

from funrun.events.models import Event

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "translations"
LOCALES = ("id", "en")
UPDATE_HINT = "run the commands in the docstring of tests/test_i18n.py"

#: A named placeholder: %(name)s, %(n)d, %(amount).2f ...
PLACEHOLDER = re.compile(r"%\([^)]*\)[-#0 +]*\d*(?:\.\d+)?[a-zA-Z]")


def _walk_into(dirpath: str) -> bool:
    """Skip hidden and private folders (as pybabel does), node_modules and instance."""
    name = Path(dirpath).name
    return not name.startswith((".", "_")) and name not in ("node_modules", "instance")


@cache
def extracted() -> Catalog:
    """The messages in the source now, extracted as ``pybabel extract -F babel.cfg -k _l``."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg, filename=str(ROOT / "babel.cfg"))
    catalog = Catalog()
    for filename, lineno, message, comments, context in extract_from_dir(
        str(ROOT),
        method_map,
        options_map,
        keywords={**DEFAULT_KEYWORDS, "_l": None},
        directory_filter=_walk_into,
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def po_path(locale: str) -> Path:
    return TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"


@cache
def stored(locale: str) -> Catalog:
    """The catalogue for ``locale`` as committed."""
    with po_path(locale).open("rb") as po:
        return read_po(po, locale=locale)


def placeholders(text: str) -> tuple[list[str], int]:
    """The named placeholders in ``text``, sorted, and how many other ``%`` it has.

    Templates always %-format their strings, so a stray ``%`` in a translation breaks
    the page even where the English has none.
    """
    named = PLACEHOLDER.findall(text)
    return sorted(named), PLACEHOLDER.sub("", text).count("%")


def forms(message_id: str | tuple[str, ...]) -> tuple[str, ...]:
    return message_id if isinstance(message_id, tuple) else (message_id,)


# --- the catalogues ------------------------------------------------------------------


def test_source_has_messages():
    ids = {m.id for m in extracted() if m.id}
    # A sanity check on the extraction itself (babel.cfg, the _l keyword, Jinja).
    assert "Register" in ids  # a template
    assert "NIK must be exactly 16 digits." in ids  # lazy_gettext in Python
    assert len(ids) > 50


@pytest.mark.parametrize("locale", LOCALES)
def test_every_message_is_translated(locale: str):
    catalog = stored(locale)
    missing, fuzzy, empty = [], [], []
    for message in extracted():
        if not message.id:
            continue
        entry = catalog.get(message.id, context=message.context)
        if entry is None:
            missing.append(message.id)
        elif entry.fuzzy:
            fuzzy.append(message.id)
        elif not all(s.strip() for s in forms(entry.string)):
            empty.append(message.id)
    assert not missing, f"not in translations/{locale} ({UPDATE_HINT}): {missing}"
    assert not fuzzy, f"fuzzy in translations/{locale}: {fuzzy}"
    assert not empty, f"untranslated in translations/{locale}: {empty}"


@pytest.mark.parametrize("locale", LOCALES)
def test_catalogue_is_clean(locale: str):
    catalog = stored(locale)
    assert str(catalog.locale) == locale
    assert not catalog.fuzzy, "the catalogue header is marked fuzzy"
    assert not [m.id for m in catalog if m.id and m.fuzzy]


@pytest.mark.parametrize("locale", LOCALES)
def test_placeholders_match(locale: str):
    wrong = []
    for message in stored(locale):
        if not message.id or not message.string:
            continue
        originals = [placeholders(text) for text in forms(message.id)]
        for translation in forms(message.string):
            if placeholders(translation) not in originals:
                wrong.append((message.id, translation))
    assert not wrong, f"placeholders differ in translations/{locale}: {wrong}"


def test_english_is_the_source():
    wrong = [m.id for m in stored("en") if m.id and m.string != m.id]
    assert not wrong, f"English msgstr should equal msgid: {wrong}"


def test_indonesian_has_one_plural_form():
    assert stored("id").num_plurals == 1


@pytest.mark.parametrize("locale", LOCALES)
def test_catalogues_are_compiled(locale: str):
    """The .mo files exist and match the .po, or Flask-Babel silently serves English."""
    mo_path = po_path(locale).with_suffix(".mo")
    assert mo_path.is_file(), f"{mo_path} is missing: run `make translations`"
    with mo_path.open("rb") as mo:
        compiled = read_mo(mo)
    stale = []
    for message in stored(locale):
        if not message.id or message.fuzzy:
            continue
        entry = compiled.get(message.id, context=message.context)
        string = entry.string if entry else ""
        if isinstance(string, list):  # plural forms come back from the .mo as a list
            string = tuple(string)
        if string != message.string:
            stale.append(message.id)
    assert not stale, f"{mo_path} is older than its .po: run `make translations`: {stale}"


# --- pages ----------------------------------------------------------------------------


class OwnContextClient(FlaskClient):
    """Gives each request its own app context, and so its own ``g``, as in production.

    The ``app`` fixture keeps an app context open for the whole test and Flask reuses it
    for every request, so Flask-Babel's locale (cached on ``g``) would leak from one
    request into the next.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client (cookies kept) whose requests do not share ``g``."""
    return OwnContextClient(app, app.response_class, use_cookies=True)


def page(client: FlaskClient, url: str, **kw) -> str:
    response = client.get(url, **kw)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


def assert_indonesian(html: str) -> None:
    assert '<html lang="id">' in html
    assert "Pemberitahuan privasi" in html
    assert "Privacy notice" not in html


def assert_english(html: str) -> None:
    assert '<html lang="en">' in html
    assert "Privacy notice" in html
    assert "Pemberitahuan privasi" not in html


@pytest.fixture
def event(make_event: Callable[..., Event]) -> Event:
    return make_event(city="Batam", name="Fun Run Batam", quota=10)


def test_pages_are_indonesian_by_default(client: FlaskClient, event: Event):
    home = page(client, "/")
    assert_indonesian(home)
    assert "Lari 5K di kota Anda" in home
    assert "Tersisa 10 dari 10 tempat" in home
    assert "13 Desember 2026" in home

    form = page(client, f"/events/{event.slug}/register")
    assert_indonesian(form)
    assert "Daftar Fun Run Batam" in form
    assert "Nama lengkap sesuai KTP" in form
    assert "Jenis kelamin" in form
    assert "Laki-laki" in form
    assert "Saya telah membaca pemberitahuan privasi" in form
    assert "06.00" in form


def test_language_cookie_switches_to_english_and_back(client: FlaskClient, event: Event):
    switched = client.get("/lang/en")
    assert switched.status_code == 302
    assert switched.headers["Location"] == "/"
    cookie = client.get_cookie("lang")
    assert cookie is not None and cookie.value == "en"

    home = page(client, "/")
    assert_english(home)
    assert "Run 5K in your city" in home
    assert "10 of 10 places left" in home
    assert "December 13, 2026" in home

    form = page(client, f"/events/{event.slug}/register")
    assert_english(form)
    assert "Register for Fun Run Batam" in form
    assert "Full name as on your ID card (KTP)" in form
    assert "I have read the privacy notice" in form
    assert "06:00" in form

    client.get("/lang/id")
    assert_indonesian(page(client, "/"))


def test_lang_query_parameter_chooses_english_for_one_page(client: FlaskClient, event: Event):
    assert_english(page(client, "/?lang=en"))
    form = page(client, f"/events/{event.slug}/register", query_string={"lang": "en"})
    assert_english(form)
    assert "Full name as on your ID card (KTP)" in form
    # The parameter does not stick; the cookie is what remembers.
    assert_indonesian(page(client, "/"))


def test_unknown_language_is_ignored(client: FlaskClient, event: Event):
    response = client.get("/lang/xx")
    assert response.status_code == 302
    assert client.get_cookie("lang") is None
    assert_indonesian(page(client, "/?lang=xx"))


def test_switch_returns_to_the_page(client: FlaskClient, event: Event):
    target = f"/events/{event.slug}/register"
    form = page(client, target)
    # The switcher links to /lang/en with this page as ``next``, and goes back to it.
    link = re.search(r'href="(/lang/en\?next=[^"]+)"', form)
    assert link, "no language switch on the page"
    response = client.get(link.group(1).replace("&amp;", "&"))
    assert response.status_code == 302
    assert response.headers["Location"] == target
    assert_english(page(client, target))


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example",
        "//evil.example/events",
        "http:evil.example",
        "evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
    ],
)
def test_switch_never_leaves_the_site(client: FlaskClient, target: str):
    response = client.get("/lang/en", query_string={"next": target})
    if any(ord(c) < 32 for c in target):
        assert response.status_code == 400  # a control character is refused outright
        return
    assert response.status_code == 302
    location = response.headers["Location"]
    parts = urlsplit(location)
    assert not parts.scheme and not parts.netloc, location
    assert location.startswith("/") and not location.startswith(("//", "/\\")), location


# --- the API --------------------------------------------------------------------------


def post_invalid(client: FlaskClient, event: Event, accept_language: str | None) -> dict:
    headers = {"Accept-Language": accept_language} if accept_language else {}
    response = client.post(
        f"/api/v1/events/{event.slug}/registrations",
        json={"full_name": "Budi Santoso", "nik": "123"},
        headers=headers,
    )
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    return response.get_json()


#: The same invalid registration's problem texts in each language.
PROBLEM_TEXTS = {
    "en": (
        "Some fields need correcting.",
        "NIK must be exactly 16 digits.",
        "This field is required.",
    ),
    "id": (
        "Beberapa isian perlu diperbaiki.",
        "NIK harus terdiri dari tepat 16 digit.",
        "Kolom ini wajib diisi.",
    ),
}


@pytest.mark.parametrize(
    ("accept_language", "locale"),
    [
        ("en", "en"),
        ("en-US,en;q=0.9,id;q=0.5", "en"),
        ("id", "id"),
        ("id-ID,id;q=0.9,en;q=0.8", "id"),
        (None, "id"),
        ("fr", "id"),
    ],
)
def test_api_problems_follow_accept_language(
    client: FlaskClient, event: Event, accept_language: str | None, locale: str
):
    title, nik_error, required = PROBLEM_TEXTS[locale]
    body = post_invalid(client, event, accept_language)
    assert body["title"] == title
    assert nik_error in body["errors"]["nik"]
    assert required in body["errors"]["birth_date"]


def test_api_ignores_the_page_language(client: FlaskClient, event: Event):
    """The API has no cookies: a page's language choice does not leak into it."""
    client.get("/lang/en")
    assert post_invalid(client, event, "id")["title"] == PROBLEM_TEXTS["id"][0]


def test_api_not_found_follows_accept_language(client: FlaskClient):
    english = client.get("/api/v1/events/nowhere", headers={"Accept-Language": "en"})
    indonesian = client.get("/api/v1/events/nowhere", headers={"Accept-Language": "id"})
    assert english.status_code == indonesian.status_code == 404
    assert english.get_json()["title"] == "No event with this name."
    assert indonesian.get_json()["title"] == "Acara tidak ditemukan."
