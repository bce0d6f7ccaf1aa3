"""Security headers and cookies, no stack traces, log-in limits, locked dependencies.

Issue 8 point 5. The browser enforces the CSP; these tests make sure every kind of answer
carries one that forbids inline script, that no page we render needs inline script, that
production cookies are Secure and HttpOnly, that an unexpected error shows the user a
translated page (never a trace), and that what ``make test`` installs is pinned.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from importlib import metadata
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale, gettext
from markupsafe import escape
from packaging.requirements import Requirement
from sqlalchemy import func, select

from config import ProductionConfig
from funrun import create_app
from funrun.audit.models import AuditEntry
from funrun.extensions import db
from tests.checkin.conftest import (  # noqa: F401  (fixtures reused here)
    PASSWORD,
    Staff,
    _fast_password_hashes,
    browser,
    login,
    make_staff,
)
from tests.conftest import build_app, csrf_from, person_payload
from tests.registration.test_pages import form_data
from tests.test_config import no_secrets, production_env  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent

# --- the CSP on every kind of answer ----------------------------------------------------


def csp(response) -> dict[str, list[str]]:
    """The Content-Security-Policy header as {directive: [sources]}."""
    directives: dict[str, list[str]] = {}
    for part in response.headers["Content-Security-Policy"].split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


def assert_strict_headers(response, url: str) -> None:
    """No inline or evaluated script, nothing from another host, no framing, no sniffing."""
    policy = csp(response)
    scripts = policy.get("script-src", policy["default-src"])
    assert scripts == ["'self'"], (url, scripts)
    for directive, sources in policy.items():
        for source in sources:
            assert source in ("'self'", "'none'", "data:", "blob:"), (url, directive, source)
    assert policy["object-src"] == ["'none'"], url
    assert policy["frame-ancestors"] == ["'none'"], url
    assert policy["base-uri"] == ["'none'"], url
    assert response.headers["X-Content-Type-Options"] == "nosniff", url
    assert response.headers["X-Frame-Options"] == "DENY", url
    assert response.headers["Referrer-Policy"] in ("same-origin", "no-referrer"), url


def test_every_kind_of_answer_carries_the_strict_policy(client, make_event):
    event = make_event(slug="jakarta")
    answers = {
        "/": 200,  # a page
        "/events/jakarta": 200,
        "/api/v1/events": 200,  # JSON
        "/api/v1/events/nowhere": 404,  # a problem document
        "/nowhere": 404,  # an error page
        "/staff/events": 302,  # a redirect to the log-in page
        "/static/css/app.css": 200,  # a static file
    }
    for url, status in answers.items():
        response = client.get(url)
        assert response.status_code == status, url
        assert_strict_headers(response, url)
        response.close()  # a static file answer holds the file open until closed
    response = client.post(
        f"/api/v1/events/{event.slug}/registrations", json=person_payload(1, nik="12")
    )
    assert response.status_code == 422
    assert_strict_headers(response, "POST registrations")


# --- no page needs inline script --------------------------------------------------------


class _ScriptFinder(HTMLParser):
    """Collects what a strict CSP would block: inline scripts, handlers, javascript: URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.links: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script" and not values.get("src"):
            self._in_inline_script = True
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...>")
            if name == "style":
                self.problems.append(f"<{tag} style=...> (style-src 'self' blocks it)")
            if value and value.strip().lower().startswith("javascript:"):
                self.problems.append(f"<{tag} {name}=javascript:...>")
        if tag == "a" and values.get("href"):
            self.links.append(values["href"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_inline_script = False

    def handle_data(self, data: str) -> None:
        if self._in_inline_script and data.strip():
            self.problems.append(f"inline <script>: {data.strip()[:40]!r}")


def inline_script_problems(html: str) -> tuple[list[str], list[str]]:
    """(what a strict CSP would block in ``html``, the page's links)."""
    finder = _ScriptFinder()
    finder.feed(html)
    return finder.problems, finder.links


def test_the_finder_sees_what_the_policy_blocks():
    problems, _links = inline_script_problems(
        '<script>alert(1)</script><a href="javascript:x()">x</a>'
        '<button onclick="x()">y</button><p style="color:red">z</p><script src="/a.js"></script>'
    )
    assert len(problems) == 4, problems


def crawl(client: FlaskClient, starts: list[str], limit: int = 80) -> dict[str, int]:
    """GET pages reachable from ``starts`` on this site (no downloads); {url: status}."""
    seen: dict[str, int] = {}
    queue = list(starts)
    while queue and len(seen) < limit:
        url = queue.pop(0)
        path = urlsplit(url).path
        if url in seen or path.startswith(("/static/", "/logout", "/api/")):
            continue
        if re.search(r"\.(pdf|csv|xlsx|json|webmanifest|js)$", path):
            continue
        response = client.get(url)
        seen[url] = response.status_code
        if not response.content_type.startswith("text/html"):
            continue
        html = response.get_data(as_text=True)
        problems, links = inline_script_problems(html)
        assert not problems, (url, problems)
        assert_strict_headers(response, url)
        for link in links:
            target = urljoin(url, link)
            parts = urlsplit(target)
            if parts.netloc in ("", "localhost") and parts.scheme in ("", "http"):
                queue.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return seen


def test_no_page_a_runner_or_an_admin_reaches_needs_inline_script(
    app: Flask,
    make_event,
    make_staff: Callable[..., Staff],  # noqa: F811
):
    event = make_event(slug="jakarta", city="Jakarta")
    admin = make_staff("admin", password=PASSWORD)
    runner = browser(app)
    token = csrf_from(runner.get(f"/events/{event.slug}/register").get_data(as_text=True))
    registered = runner.post(
        f"/events/{event.slug}/register", data={**form_data(3), "csrf_token": token}
    )
    assert registered.status_code in (302, 303), registered.get_data(as_text=True)[:500]
    manage = registered.headers["Location"]
    public = crawl(runner, ["/", "/?lang=en", f"/events/{event.slug}", "/privacy", manage])
    assert len(public) >= 4

    staff = browser(app)
    assert login(staff, admin.email).status_code == 302
    pages = crawl(staff, ["/staff", "/staff/dashboard", f"/staff/events/{event.slug}/roster"])
    # The crawl really walked the staff side (events, people, audit, scan, enrolment ...).
    assert sum(1 for url, status in pages.items() if status == 200) >= 10, pages
    assert not [url for url, status in pages.items() if status >= 500], pages


# --- cookies ----------------------------------------------------------------------------


@pytest.fixture
def production_app(
    app: Flask,
    production_env: dict[str, str],  # noqa: F811
    database_url: str,
) -> Iterator[Flask]:
    """A production app (Secure cookies, HSTS, no TESTING) on the test database."""
    built = create_app(
        ProductionConfig,
        SQLALCHEMY_DATABASE_URI=database_url,
        RATELIMIT_STORAGE_URI="memory://",
        RATELIMIT_ENABLED=False,
    )
    yield built
    with built.app_context():
        db.engine.dispose()


def cookie_attributes(response, name: str) -> set[str]:
    """The lower-cased attributes of the Set-Cookie header that sets ``name``."""
    for header in response.headers.getlist("Set-Cookie"):
        if header.startswith(f"{name}="):
            return {part.strip().split("=")[0].lower() for part in header.split(";")[1:]} | {
                part.strip().lower() for part in header.split(";")[1:]
            }
    raise AssertionError(f"no {name} cookie set: {response.headers.getlist('Set-Cookie')}")


def test_production_session_cookie_is_secure_httponly_and_lax(
    production_app: Flask,
    make_staff: Callable[..., Staff],  # noqa: F811
):
    admin = make_staff("admin", password=PASSWORD)
    client = production_app.test_client()
    page = client.get("/login", base_url="https://funrun.example")
    assert "max-age=" in page.headers["Strict-Transport-Security"]
    attributes = cookie_attributes(page, "session")
    assert {"secure", "httponly", "samesite=lax", "path=/"} <= attributes
    token = csrf_from(page.get_data(as_text=True))
    signed_in = client.post(
        "/login",
        data={"email": admin.email, "password": PASSWORD, "csrf_token": token},
        base_url="https://funrun.example",
        # Over HTTPS the CSRF check also wants a same-site Referer, as browsers send.
        headers={"Referer": "https://funrun.example/login"},
    )
    assert signed_in.status_code == 302
    assert {"secure", "httponly", "samesite=lax"} <= cookie_attributes(signed_in, "session")
    # The API never sets a cookie, even on a signed-in browser's request.
    api = client.get("/api/v1/events", base_url="https://funrun.example")
    assert api.status_code == 200
    assert not api.headers.getlist("Set-Cookie")


def test_development_cookies_are_httponly_too(client):
    attributes = cookie_attributes(client.get("/login"), "session")
    assert {"httponly", "samesite=lax"} <= attributes
    assert "secure" not in attributes  # plain http on a developer's machine


# --- no stack traces --------------------------------------------------------------------


class _Explosion(RuntimeError):
    """An unexpected error whose text must never reach a user."""


SECRET_DETAIL = "psycopg.OperationalError: password=hunter2 at /srv/funrun/app.py line 42"


def test_an_unexpected_error_is_a_translated_page_without_a_trace(
    production_app: Flask, caplog: pytest.LogCaptureFixture
):
    def boom() -> str:
        raise _Explosion(SECRET_DETAIL)

    production_app.add_url_rule("/boom", "boom", boom)
    production_app.add_url_rule("/api/v1/boom", "api_boom", boom)
    client = production_app.test_client()
    with caplog.at_level("ERROR"):
        page = client.get("/boom", base_url="https://funrun.example")
        english = client.get("/boom?lang=en", base_url="https://funrun.example")
        api = client.get("/api/v1/boom", base_url="https://funrun.example")
    for response in (page, english, api):
        assert response.status_code == 500
        body = response.get_data(as_text=True)
        for leak in ("Traceback", "hunter2", "_Explosion", "app.py", 'File "'):
            assert leak not in body, leak
        assert_strict_headers(response, "/boom")
    with production_app.test_request_context("/"), force_locale("id"):
        indonesian = str(escape(gettext("Something went wrong on our side. Please try again.")))
    assert indonesian in page.get_data(as_text=True)
    assert "Something went wrong on our side" in english.get_data(as_text=True)
    assert indonesian != "Something went wrong on our side. Please try again."
    assert api.content_type == "application/problem+json"
    assert api.get_json()["status"] == 500
    # The operator still gets the whole story, in the log.
    assert any(record.exc_info and record.exc_info[0] is _Explosion for record in caplog.records), (
        "the error was not logged with its traceback"
    )


# --- rate limits on log-in --------------------------------------------------------------


@pytest.fixture
def limited_login(app: Flask, database_url: str) -> Iterator[Flask]:
    """An app with rate limits on (the testing config turns them off)."""
    built = build_app(
        database_url,
        FUNRUN_RATE_LIMITS="20/minute",
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI="memory://",
    )
    yield built
    with built.app_context():
        db.engine.dispose()


def test_guessing_passwords_is_limited_per_client(
    limited_login: Flask,
    make_staff: Callable[..., Staff],  # noqa: F811
):
    admin = make_staff("admin", password=PASSWORD)
    guesser = browser(limited_login)
    token = csrf_from(guesser.get("/login").get_data(as_text=True))
    statuses = [
        guesser.post(
            "/login",
            # A different email each time: this is the limit per client; guesses at one
            # email lock it after five (tests/accounts/test_signin_throttle.py).
            data={"email": f"guess-{n}@example.org", "password": "x" * 12, "csrf_token": token},
            environ_base={"REMOTE_ADDR": "203.0.113.9"},
        ).status_code
        for n in range(12)
    ]
    assert statuses[:10] == [401] * 10
    assert statuses[10:] == [429, 429]
    # Even the right password waits now: the limit is on attempts, not on failures.
    right = guesser.post(
        "/login",
        data={"email": admin.email, "password": PASSWORD, "csrf_token": token},
        environ_base={"REMOTE_ADDR": "203.0.113.9"},
    )
    assert right.status_code == 429
    with limited_login.test_request_context("/"), force_locale("id"):
        wait = str(escape(gettext("Too many requests. Please wait a minute and try again.")))
    assert wait in right.get_data(as_text=True)
    # Another client (another desk) is not held back by the guesser.
    desk = browser(limited_login)
    token = csrf_from(desk.get("/login").get_data(as_text=True))
    signed_in = desk.post(
        "/login",
        data={"email": admin.email, "password": PASSWORD, "csrf_token": token},
        environ_base={"REMOTE_ADDR": "198.51.100.7"},
    )
    assert signed_in.status_code == 302
    db.session.rollback()
    failed = db.session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "login_failed")
    )
    assert failed == 10  # refused attempts never reached the password check


# --- locked dependencies ----------------------------------------------------------------


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not an exact pin"
            pins[_normal(name)] = version
    return pins


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirements_of(name: str, extras: set[str]) -> list[Requirement]:
    wanted = []
    for text in metadata.requires(name) or []:
        requirement = Requirement(text)
        if requirement.marker is None or any(
            requirement.marker.evaluate({"extra": extra}) for extra in extras | {""}
        ):
            wanted.append(requirement)
    return wanted


def test_every_installed_dependency_is_pinned_to_what_is_installed():
    """A fresh clone and CI install exactly these versions (pip ... -c constraints.txt)."""
    pins = _pins()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [Requirement(r) for r in project["dependencies"]]
    declared += [Requirement(r) for r in project["optional-dependencies"]["dev"]]
    todo = [(r.name, set(r.extras)) for r in declared]
    walked: set[str] = set()
    while todo:
        name, extras = todo.pop()
        key = _normal(name)
        if key in walked:
            continue
        walked.add(key)
        installed = metadata.version(name)
        assert key in pins, f"{name} is installed but not pinned in constraints.txt"
        assert pins[key] == installed, f"{name}: pinned {pins[key]}, installed {installed}"
        todo += [(r.name, set(r.extras)) for r in _requirements_of(name, extras)]
    assert len(walked) >= 30
    makefile = (ROOT / "Makefile").read_text()
    assert "-c constraints.txt" in makefile
    assert "npm ci" in makefile  # the front-end decoder comes from the lock file


def test_the_front_end_lock_pins_the_decoder():
    lock = json.loads((ROOT / "package-lock.json").read_text())
    package = json.loads((ROOT / "package.json").read_text())
    for name in package.get("dependencies", {}):
        entry = lock["packages"][f"node_modules/{name}"]
        assert re.fullmatch(r"\d+\.\d+\.\d+", entry["version"]), name
        assert entry["integrity"].startswith("sha512-"), name
