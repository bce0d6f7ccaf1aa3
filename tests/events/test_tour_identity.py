"""The tour's identity (issue 19, point 8): organisers set the names, colours and a PNG
logo; every page shows the scheme's name, loads the tour's colours from a stylesheet of
the app's own (no inline style), the favicon, and numbers in the page's language."""

from __future__ import annotations

import re
import struct
import zlib

import pytest
from sqlalchemy import select

from funrun.audit.models import AuditEntry
from funrun.events.models import Tour
from funrun.extensions import db
from tests.checkin.conftest import PASSWORD, browser, login
from tests.conftest import csrf_from

URL = "/staff/tours/test-tour/identity"


def png(width: int = 40, height: int = 20, *, pad: int = 0) -> bytes:
    """A real PNG (one colour), ``pad`` bytes of an ancillary chunk making it bigger."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    raw = b"".join(b"\x00" + b"\x0a\x7a\x3d" * width for _ in range(height))
    body = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    if pad:
        body += chunk(b"tEXt", b"Comment\x00" + b"x" * pad)
    body += chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


@pytest.fixture
def organiser(app, make_event, make_staff):
    event = make_event(slug="batam", city="Batam", quota=1500)
    staff = make_staff("organiser", password=PASSWORD)
    client = browser(app)
    assert login(client, staff.email).status_code == 302
    return client, event


def send(client, *, logo: tuple[bytes, str, str] | None = None, **fields: str):
    token = csrf_from(client.get(URL).get_data(as_text=True))
    data: dict[str, object] = {
        "organiser": "BPJS Ketenagakerjaan",
        "scheme_name": "BPJS Ketenagakerjaan",
        "colour": "#1d4e89",
        "accent_colour": "#F2A900",
        "csrf_token": token,
        **fields,
    }
    if logo is not None:
        import io

        content, name, mimetype = logo
        data["logo"] = (io.BytesIO(content), name, mimetype)
    return client.post(URL + "?lang=en", data=data, content_type="multipart/form-data")


def tour() -> Tour:
    db.session.rollback()
    found = db.session.scalar(select(Tour).where(Tour.slug == "test-tour"))
    assert found is not None
    return found


def test_an_organiser_sets_the_names_colours_and_logo(app, organiser):
    client, _event = organiser
    page = client.get(URL + "?lang=en")
    assert page.status_code == 200
    assert 'enctype="multipart/form-data"' in page.get_data(as_text=True)
    logo = png()
    saved = send(client, logo=(logo, "logo.png", "image/png"))
    assert saved.status_code == 303, saved.get_data(as_text=True)[:400]
    found = tour()
    assert (found.organiser, found.scheme_name) == ("BPJS Ketenagakerjaan",) * 2
    assert (found.colour, found.accent_colour) == ("#1D4E89", "#F2A900")
    assert (found.logo, found.logo_type) == (logo, "image/png")
    assert db.session.scalar(select(AuditEntry.action).order_by(AuditEntry.id.desc())) == (
        "tour_edit"
    )
    # Served from the app, cached, never run; a second ask with the ETag is a 304.
    public = browser(app)
    home = public.get("/?lang=en").get_data(as_text=True)
    logo_url = re.search(r'<img src="(/tours/test-tour/logo\?v=[0-9a-f]+)"', home).group(1)
    served = public.get(logo_url)
    assert served.status_code == 200 and served.data == logo
    assert served.mimetype == "image/png"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert (
        "public" in served.headers["Cache-Control"] and "max-age" in served.headers["Cache-Control"]
    )
    again = public.get(logo_url, headers={"If-None-Match": served.headers["ETag"]})
    assert again.status_code == 304
    # Keeping the logo (no new file), then removing it.
    assert send(client).status_code == 303 and tour().logo == logo
    assert send(client, remove_logo="y").status_code == 303
    assert tour().logo is None
    assert public.get("/tours/test-tour/logo").status_code == 404
    assert public.get("/tours/no-such-tour/logo").status_code == 404


@pytest.mark.parametrize(
    ("logo", "message"),
    [
        ((SVG, "logo.svg", "image/svg+xml"), "The logo must be a PNG image."),
        ((SVG, "logo.png", "image/png"), "The logo must be a PNG image."),  # forged type
        ((b"GIF89a" + b"\x00" * 40, "logo.png", "image/png"), "The logo must be a PNG image."),
        ((png()[:40], "logo.png", "image/png"), "The logo must be a PNG image."),  # cut short
        ((png(4000, 1), "logo.png", "image/png"), "at most 2048 pixels"),
        ((png(pad=101 * 1024), "logo.png", "image/png"), "too big: at most 100 KB"),
        ((b"", "logo.png", "image/png"), "The file is empty."),
    ],
)
def test_a_bad_logo_is_refused_with_a_message_and_nothing_kept(organiser, logo, message):
    client, _event = organiser
    before = tour().logo
    response = send(client, logo=logo)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert tour().logo == before
    assert tour().logo_type is None


def test_a_body_over_the_upload_limit_is_413(organiser):
    client, _event = organiser
    response = send(client, logo=(png(pad=200 * 1024), "logo.png", "image/png"))
    assert response.status_code == 413
    assert tour().logo is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("colour", "green"),
        ("colour", "#12345"),
        ("colour", "#12345G"),
        ("accent_colour", "#1234567"),
        ("accent_colour", ""),
        ("colour", "red;}body{x:y"),
        ("organiser", ""),
        ("organiser", "x" * 121),
    ],
)
def test_colours_must_be_hex_and_names_single_lines(organiser, field, value):
    client, _event = organiser
    response = send(client, **{field: value})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="{field}-error"' in html
    assert tour().colour == "#0A7A3D"  # the default, unchanged


def test_a_file_in_any_other_form_or_field_is_400(app, organiser):
    client, event = organiser
    import io

    token = csrf_from(client.get(URL).get_data(as_text=True))
    other = client.post(
        URL,
        data={"csrf_token": token, "organiser": (io.BytesIO(png()), "x.png")},
        content_type="multipart/form-data",
    )
    assert other.status_code == 400
    page = client.post(
        f"/staff/events/{event.slug}/edit",
        data={"csrf_token": token, "logo": (io.BytesIO(png()), "x.png")},
        content_type="multipart/form-data",
    )
    assert page.status_code == 400


def test_runners_and_volunteers_cannot_set_the_identity(app, make_event, make_staff):
    make_event()
    assert browser(app).get(URL).status_code in (302, 401, 403)
    volunteer = make_staff("volunteer", password=PASSWORD)
    client = browser(app)
    login(client, volunteer.email)
    assert client.get(URL).status_code == 403


def test_the_theme_stylesheet_sets_the_tour_colours(app, organiser):
    client, _event = organiser
    assert send(client, colour="#FFDD00").status_code == 303
    public = browser(app)
    home = public.get("/").get_data(as_text=True)
    theme_url = re.search(
        r'<link rel="stylesheet" href="(/tours/test-tour/theme\.css\?v=[0-9a-f]+)"', home
    )
    assert theme_url, "no theme stylesheet"
    css = public.get(theme_url.group(1))
    assert css.status_code == 200 and css.mimetype == "text/css"
    text = css.get_data(as_text=True)
    assert "--brand:#FFDD00" in text and "--accent:#F2A900" in text
    assert "--brand-ink:#111" in text  # dark text on a light colour
    assert "public" in css.headers["Cache-Control"]
    # A changed colour is a new URL (browsers never keep the old theme).
    assert send(client, colour="#1D4E89").status_code == 303
    home2 = browser(app).get("/").get_data(as_text=True)
    assert theme_url.group(1) not in home2
    assert browser(app).get("/tours/nope/theme.css").status_code == 404


def test_every_public_page_names_the_scheme_and_links_the_favicon(app, organiser):
    staff, event = organiser
    client = browser(app)
    assert (
        send(staff, scheme_name="BPJS Ketenagakerjaan", organiser="Panitia Fun Run").status_code
        == 303
    )
    for url in (
        "/",
        f"/events/{event.slug}",
        f"/events/{event.slug}/register",
        "/privacy",
        "/r/recover",
    ):
        for lang in ("id", "en"):
            html = client.get(f"{url}?lang={lang}").get_data(as_text=True)
            footer = html[html.index('<footer class="site">') :]
            assert "BPJS Ketenagakerjaan · Panitia Fun Run" in footer, (url, lang)
            assert re.search(r'<link rel="icon" href="/static/favicon\.svg"', html), url
            assert re.search(r'<link rel="icon" href="/static/favicon\.png"', html), url
            assert not re.search(r"\sstyle\s*=|<style", html), url
    for name in ("favicon.svg", "favicon.png"):
        icon = client.get(f"/static/{name}")
        assert icon.status_code == 200 and len(icon.data) < 4096
        icon.close()


def test_each_city_card_has_a_register_button(app, organiser):
    _staff, event = organiser
    client = browser(app)
    for lang, word in (("id", "Daftar"), ("en", "Register")):
        html = client.get(f"/?lang={lang}").get_data(as_text=True)
        button = re.search(
            rf'<a class="button" href="/events/{event.slug}/register"[^>]*>{word}</a>', html
        )
        assert button, lang


def test_numbers_follow_the_page_language(app, organiser, add_runners):
    _staff, event = organiser
    client = browser(app)
    add_runners(event, 2)
    for lang, left, quota in (("id", "1.498", "1.500"), ("en", "1,498", "1,500")):
        for url in ("/", f"/events/{event.slug}", f"/events/{event.slug}/register"):
            html = client.get(f"{url}?lang={lang}").get_data(as_text=True)
            assert left in html and quota in html, (url, lang)


def test_the_events_page_links_the_identity_form(organiser):
    client, _event = organiser
    html = client.get("/staff/events?lang=en").get_data(as_text=True)
    assert f'href="{URL}"' in html


def test_pages_remember_the_brand_a_few_seconds_and_show_an_edit_here_at_once(app, organiser):
    """Every public page shows the brand: a process reads the tour row once in
    FUNRUN_TERMS_CACHE_SECONDS, so another process's edit shows within that time, and an
    edit made through this process shows on its next page."""
    from sqlalchemy import update

    from funrun.registration import terms_cache

    client, _event = organiser
    assert send(client, colour="#1D4E89").status_code == 303
    theme = re.compile(r"/tours/test-tour/theme\.css\?v=([0-9a-f]+)")
    first = theme.search(browser(app).get("/").get_data(as_text=True)).group(1)
    # Another process's edit (behind this one's back): not shown while remembered...
    db.session.execute(update(Tour).where(Tour.slug == "test-tour").values(colour="#FFDD00"))
    db.session.commit()
    assert theme.search(browser(app).get("/").get_data(as_text=True)).group(1) == first
    terms_cache.forget()  # ...and shown once this process's memory of it has expired
    second = theme.search(browser(app).get("/").get_data(as_text=True)).group(1)
    assert second != first
    # An edit through this process: shown on the very next page.
    assert send(client, colour="#0A7A3D").status_code == 303
    third = theme.search(browser(app).get("/").get_data(as_text=True)).group(1)
    assert third not in (first, second)
