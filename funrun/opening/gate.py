"""The registration form's gate: the waiting page, tickets turned into admissions.

The register view asks :class:`Gate` twice: before it reads the event (:meth:`waiting`:
a ticket whose slot has not come gets the waiting page, read from the signed ticket
alone, no Redis, no database), and with the event (:meth:`check`: an arrival takes its
slot; a form sent without a valid admission goes back to the queue). :meth:`finish`
puts the ticket or admission on the answer (a cookie scoped to the event's form).
"""

from __future__ import annotations

import math
import secrets

from flask import (
    current_app,
    flash,
    get_flashed_messages,
    make_response,
    redirect,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from funrun.opening import page, passes, rates, slots
from funrun.opening.lane import (
    ADMITTED,
    COOKIE,
    LASTING,
    QueuedEvent,
    arrive,
    cookie_header,
    turn_ticket,
)
from funrun.opening.passes import Admission, Ticket
from funrun.registration.tokens import SUBMISSION_SHAPE


def waiting_page(ticket: Ticket, now: float) -> Response:
    """The light page a queued runner waits on (HTTP 200, refreshes itself)."""
    words = page.words(current_app._get_current_object(), str(get_locale()))  # type: ignore[attr-defined]
    html = page.render(words, ticket, now, request.path, list(get_flashed_messages()))
    response = make_response(html)
    response.headers["Cache-Control"] = "no-store"
    return response


def _sent_form() -> str:
    """What claims an admission: the form's own id (the same form sent again keeps it),
    or, for a POST without a well-formed one, something no other POST sends."""
    ref = request.form.get("submission", "")
    return ref if SUBMISSION_SHAPE.fullmatch(ref) else secrets.token_hex(16)


class Gate:
    """One request's way through an event's queue on its registration page."""

    def __init__(self, slug: str) -> None:
        self.slug = slug
        self.now = passes.now()
        held = passes.read(request.cookies.get(COOKIE), slug, self.now)
        self.ticket = held if isinstance(held, Ticket) else None
        self.admission = held if isinstance(held, Admission) else None
        #: The cookie to set (its value and lifetime in seconds).
        self._cookie: tuple[str, int] | None = None
        admitted = request.environ.get(ADMITTED)  # by the fast lane, on arrival
        if admitted is not None:
            self.admission, value = admitted
            self._cookie = (value, passes.ADMISSION_SECONDS)

    def waiting(self) -> Response | None:
        """The waiting page while the runner's ticket is not due (reads nothing), or for
        an arrival the queue puts in line (the event's rate as this process remembers
        it: no database read in a rush)."""
        if request.method == "POST":
            return None  # a form sent while waiting: refused by check()
        ticket = self.ticket
        if ticket is None:
            if self.admission is None and slots.enabled():
                facts = rates.queued_event(self.slug)
                if facts is not None and facts.admit_rate:
                    return self.check(facts)
            return None
        if not ticket.due(self.now):
            return waiting_page(ticket, self.now)
        turn = slots.form_turn(
            ticket.event_id, ticket.rate, held=ticket.booked, slot_second=math.floor(ticket.slot)
        )
        later = turn_ticket(turn, ticket.event_id, self.slug, ticket.rate, ticket.name)
        if isinstance(later, Ticket):
            # Due, but the form is full this second: the second booked for them.
            self._cookie = (passes.ticket(later), math.ceil(later.wait(later.issued)) + LASTING)
            return self.finish(waiting_page(later, later.issued))
        self._admit(ticket.event_id, later)
        return None

    def check(self, event: QueuedEvent) -> Response | None:
        """With the event read: None to go on to the form, or the answer to give instead."""
        rate = event.admit_rate
        if not rate or not slots.enabled():
            return None
        admission = self.admission
        if admission is not None and admission.event_id == event.id:
            if request.method != "POST" or slots.claim(
                event.id, admission.nonce, _sent_form(), passes.ADMISSION_SECONDS
            ):
                return None
            # The admission registered another form: it lets one runner through.
            return self.finish(self._back_to_queue(_(
                "This turn in the queue has already been used to register a runner. "
                "You are in the queue again.")), used_up=True)  # fmt: skip
        if request.method == "POST":
            # Nothing is registered: back to the page, which queues them (or shows the
            # place a ticket still holds).
            return self._back_to_queue(_(
                "Your turn to fill in the form has ended, or you came without queueing. "
                "You are in the queue again."))  # fmt: skip
        ticket = arrive(slots.take(event.id, rate), event)
        if not isinstance(ticket, Ticket):
            # Due now, or Redis failed (logged): the runner goes through either way.
            self._admit(event.id, ticket)
            return None
        self._cookie = (passes.ticket(ticket), math.ceil(ticket.wait(ticket.issued)) + LASTING)
        return self.finish(waiting_page(ticket, ticket.issued))

    def _back_to_queue(self, reason: str) -> Response:
        """A form refused before anything is registered: back to the page (``?back``: the
        app's, which shows ``reason``), which queues them or shows the place they hold."""
        flash(reason, "error")
        back = url_for("registration.register_page", slug=self.slug, back=1)
        return redirect(back, code=303)

    def _admit(self, event_id: int, given: float) -> None:
        """An admission given at ``given`` (when the form counted them)."""
        self.admission, value = passes.admit(event_id, self.slug, given)
        self._cookie = (value, passes.ADMISSION_SECONDS)

    def finish(self, response: Response, *, used_up: bool = False) -> Response:
        """Put the ticket or admission issued on ``response``; ``used_up`` (a registration,
        or an admission another form used) ends the admission."""
        path = url_for("registration.register_page", slug=self.slug)
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        if used_up:
            response.headers.add("Set-Cookie", cookie_header(app, path, "", 0))
        elif self._cookie is not None:
            value, seconds = self._cookie
            response.headers.add("Set-Cookie", cookie_header(app, path, value, seconds))
        return response
