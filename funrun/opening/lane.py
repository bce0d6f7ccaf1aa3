"""The queue's fast lane: the waiting page answered in front of the Flask app.

In a rush most requests to a queued event's form are arrivals put in line and refreshes
of the waiting page. Both are answered here, before Flask's request machinery (session,
sign-in, CSRF, per-request hooks), which costs several times what these answers do:
from the signed ticket alone for a refresh, and one Redis step for an arrival. Anything
else (an admission, a slot that is due, another method, a query string other than
``lang``, an event without a queue, no Redis) goes on to the app unchanged; an arrival
admitted here hands its new admission to the app in the WSGI environ, which no client
can set.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from typing import Any, Protocol
from urllib.parse import parse_qsl

from flask import Flask
from werkzeug.http import dump_cookie
from werkzeug.sansio.http import parse_cookie

from funrun.i18n import LANG_COOKIE
from funrun.opening import page, passes, rates, slots
from funrun.opening.passes import Ticket
from funrun.security import CSP

PATH = re.compile(r"/events/([A-Za-z0-9_.\-]{1,64})/register")
COOKIE = "funrun_queue"
#: Where the app finds an admission this lane issued, and it signed (a WSGI key: never
#: from a client).
ADMITTED = "funrun.queue.admission"

Answer = tuple[str, list[tuple[str, str]], bytes]


class QueuedEvent(Protocol):
    """What the gate needs of an event."""

    id: int
    slug: str
    name: str
    admit_rate: int | None


#: A ticket's cookie lasts its wait and this long after.
LASTING = passes.ADMISSION_SECONDS


def arrive(slot: slots.Slot | None, event: QueuedEvent) -> Ticket | float:
    """An arrival given ``slot``: the ticket to wait with, or the moment the form opened
    for them (their slot is due and the form had room this second; or no answer from
    Redis, and they go through now)."""
    if slot is None:
        return passes.now()
    rate = event.admit_rate or 1
    if not slot.due:
        return Ticket(event.id, event.slug, slot.at, rate, slot.now, event.name)
    turn = slots.form_turn(event.id, rate, slot_second=slot.micros // 1_000_000)
    return turn_ticket(turn, event.id, event.slug, rate, event.name)


def turn_ticket(
    turn: slots.FormTurn | None, event_id: int, slug: str, rate: int, name: str
) -> Ticket | float:
    """A ticket for the second the form booked, or the moment it opened for them (on
    Redis's clock: in the second it was counted in; now when Redis did not answer)."""
    if turn is None:
        return passes.now()
    if turn.admitted:
        return turn.given
    return Ticket(event_id, slug, turn.at, rate, turn.now, name, booked=turn.second)


class QueueLane:
    """WSGI middleware: queued arrivals and waiting-page refreshes, answered cheaply."""

    def __init__(self, wsgi_app: Callable[..., Iterable[bytes]], app: Flask) -> None:
        self.wsgi_app = wsgi_app
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("REQUEST_METHOD") == "GET":
            match = PATH.fullmatch(environ.get("PATH_INFO", ""))
            if match is not None and self.app.config.get("REDIS_URL"):
                answer = self._answer(environ, match.group(1))
                if answer is not None:
                    status, headers, body = answer
                    start_response(status, headers)
                    return [body]
        return self.wsgi_app(environ, start_response)

    def _answer(self, environ: dict[str, Any], slug: str) -> Answer | None:
        query = parse_qsl(environ.get("QUERY_STRING", ""))
        if any(name != "lang" for name, _value in query):
            return None  # the app's: e.g. a refused form's way back, with its message
        # As the app's request reads it: werkzeug.http's parse_cookie decodes the header as
        # UTF-8 strictly, and a Cookie header of other bytes was a 500 here.
        cookies = parse_cookie(environ.get("HTTP_COOKIE", ""))
        languages = self.app.config["LANGUAGES"]
        lang = dict(query).get("lang") or cookies.get(LANG_COOKIE)
        lang = lang if lang in languages else self.app.config["BABEL_DEFAULT_LOCALE"]
        path = environ["PATH_INFO"]
        with self.app.app_context():
            now = passes.now()
            held = passes.read(cookies.get(COOKIE), slug, now)
            if isinstance(held, Ticket):
                if held.due(now):
                    return None  # due: the app turns it into an admission
                return self._page(held, now, lang, path, cookie=None)
            if held is not None:
                return None  # an admission: the form
            facts = rates.queued_event(slug)
            if facts is None or not facts.admit_rate:
                return None
            ticket = arrive(slots.take(facts.id, facts.admit_rate), facts)
            if not isinstance(ticket, Ticket):
                # Due now, or Redis failed (logged): through to the form, admitted.
                environ[ADMITTED] = passes.admit(facts.id, slug, ticket)
                return None
            wait = math.ceil(ticket.wait(ticket.issued))
            cookie = cookie_header(self.app, path, passes.ticket(ticket), wait + LASTING)
            return self._page(ticket, ticket.issued, lang, path, cookie=cookie)

    def _page(self, ticket: Ticket, now: float, lang: str, path: str, cookie: str | None) -> Answer:
        body = page.render(page.words(self.app, lang), ticket, now, path, []).encode()
        headers = [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            ("Content-Security-Policy", CSP),
            ("X-Content-Type-Options", "nosniff"),
            ("X-Frame-Options", "DENY"),
            ("Referrer-Policy", "same-origin"),
        ]
        if self.app.config.get("ENV_NAME") == "production":
            headers.append(("Strict-Transport-Security", "max-age=63072000; includeSubDomains"))
        if cookie is not None:
            headers.append(("Set-Cookie", cookie))
        return "200 OK", headers, body


def cookie_header(app: Flask, path: str, value: str, max_age: int) -> str:
    """The queue's cookie as Flask's ``set_cookie`` would write it."""
    return dump_cookie(
        COOKIE,
        value,
        max_age=max_age,
        path=path,
        secure=bool(app.config.get("SESSION_COOKIE_SECURE")),
        httponly=True,
        samesite="Lax",
    )
