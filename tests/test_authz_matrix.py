"""Who may call what: every route of the app, as seven identities, against one table.

MATRIX below is the intended authorisation rule, one line per route (method and URL rule
exactly as in ``app.url_map``), one column per identity:

- ``anon``: a browser or API client with no credentials at all.
- ``runner``: holds the manage token of a confirmed registration at the event ``here``
  (its only credential: it opens ``/r/<token>`` and ``/api/v1/registrations/<token>``;
  on other API routes the runner tries it as a bearer token, which must not work).
- ``vol_here``: a volunteer assigned to the event ``here``; ``vol_else``: a volunteer
  assigned only to another event (``elsewhere``). Every path names ``here``'s data.
- ``partner``: a partner account (an aggregator) with a password (issue 20): it signs in
  on /login like staff and opens its own pages under /partner/ (its imports and members,
  scoped to its account), while every staff page refuses it (403, as for any wrong role).
  On pages it also sends its API token, which opens nothing there; the API reads its
  token only, never its cookie.
- ``organiser``, ``admin``.

Pages are called with a signed-in cookie session (Flask-Login's session keys, for real
accounts with hashed passwords) and a valid CSRF token; the API with ``Authorization:
Bearer`` tokens. Path parameters come from real rows: a check-in, an enrolment, an export
batch, a finished print job, another volunteer's assignment and token, and so on. POSTs
send a valid, harmless body. GETs change nothing that matters, so they share one world;
after a POST that was let through and cannot simply be repeated (a cancel, an undo, a new
account) the next identity gets a freshly built world, and so does the row after any POST.

Outcomes: ``ok`` = 2xx or a 3xx that is not a redirect to the sign-in page; ``login`` = a
redirect to /login; otherwise the status code. ``<token>`` in a path is a credential, not
data: only the runner knows it, everyone else calls with a well-formed token nobody holds
(so ``404``). The test also fails when a route exists that the table does not list.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash
from werkzeug.test import TestResponse

from config import BASE_DIR
from funrun.accounts import staff_sessions
from funrun.accounts.models import ApiToken, EventAssignment, Role, User
from funrun.accounts.services import create_api_token
from funrun.bibs.models import PrintJob, PrintJobStatus
from funrun.bibs.printing import pdf_path
from funrun.bibs.services import payload_for
from funrun.checkin.apiauth import SESSION_PATHS
from funrun.checkin.models import CheckIn
from funrun.checkin.services import scan
from funrun.enrolment import services as enrolment_services
from funrun.enrolment.export import create_batch
from funrun.enrolment.schedule import dump_document, load_file
from funrun.enrolment.schedule_forms import form_fields
from funrun.events.models import Event, Tour
from funrun.extensions import db
from funrun.groups.models import GroupImport
from funrun.jobs.models import Job
from funrun.messages.models import Broadcast, Message
from funrun.payments.models import PaymentFile
from funrun.payments.uploads import KIND as PAYMENTS_KIND
from funrun.payments.uploads import upload_path, write_progress
from funrun.registration.models import Registration
from funrun.registration.services import current_privacy_notice, register
from funrun.registration.validation import clean_registration
from tests.checkin.conftest import browser
from tests.conftest import csrf_from, person_payload, truncate_all
from tests.enrolment.conftest import FINALE, enrol_body

IDENTITIES = ("anon", "runner", "vol_here", "vol_else", "partner", "organiser", "admin")

# fmt: off
MATRIX = """
# method + rule                                                  anon      runner    vol_here  vol_else  partner   organiser admin
GET  /                                                           ok        ok        ok        ok        ok        ok        ok
GET  /static/<path:filename>                                     ok        ok        ok        ok        ok        ok        ok
GET  /lang/<code>                                                ok        ok        ok        ok        ok        ok        ok
GET  /privacy                                                    ok        ok        ok        ok        ok        ok        ok
GET  /events/<slug:slug>                                         ok        ok        ok        ok        ok        ok        ok
GET  /events/<slug:slug>/privacy                                 ok        ok        ok        ok        ok        ok        ok
GET  /events/<slug:slug>/register                                ok        ok        ok        ok        ok        ok        ok
# the tour's logo and colours, on every page (the slug is the tour's)
GET  /tours/<slug:slug>/logo                                     ok        ok        ok        ok        ok        ok        ok
GET  /tours/<slug:slug>/theme.css                                ok        ok        ok        ok        ok        ok        ok
GET  /events/<slug:slug>/iuran                                   ok        ok        ok        ok        ok        ok        ok
POST /events/<slug:slug>/register                                ok        ok        ok        ok        ok        ok        ok
# a ballot's results (rank, entry number, outcome: no names): public once drawn ("here" has none)
GET  /events/<slug:slug>/ballot.csv                              404       404       404       404       404       404       404
GET  /login                                                      ok        ok        ok        ok        ok        ok        ok
# each identity posts its own email and password: a partner given a password signs in too
POST /login                                                      401       401       ok        ok        ok        ok        ok
POST /logout                                                     ok        ok        ok        ok        ok        ok        ok
# the runner's pages: the token in the path is the credential
# a lost link found again: public (the same answer whoever asks; a match changes the link)
GET  /r/recover                                                  ok        ok        ok        ok        ok        ok        ok
POST /r/recover                                                  ok        ok        ok        ok        ok        ok        ok
GET  /r/<token>                                                  404       ok        404       404       404       404       404
POST /r/<token>                                                  404       ok        404       404       404       404       404
GET  /r/<token>/cancel                                           404       ok        404       404       404       404       404
POST /r/<token>/cancel                                           404       ok        404       404       404       404       404
GET  /r/<token>/bib.pdf                                          404       ok        404       404       404       404       404
GET  /r/<token>/qr.svg                                           404       ok        404       404       404       404       404
GET  /r/<token>/my-data.json                                     404       ok        404       404       404       404       404
POST /r/<token>/reminders                                        404       ok        404       404       404       404       404
POST /r/<token>/representative                                   404       ok        404       404       404       404       404
# a group member confirms (or lets go) the place a partner holds: the token is the credential
POST /r/<token>/confirm                                          404       ok        404       404       404       404       404
# a partner's own pages (its imports and members); staff are refused, as partners are on theirs
GET  /partner/                                                   login     login     403       403       ok        403       403
GET  /partner/members                                            login     login     403       403       ok        403       403
GET  /partner/password                                           login     login     403       403       ok        403       403
POST /partner/password                                           login     login     403       403       ok        403       403
GET  /partner/imports/<id:import_id>                             login     login     403       403       ok        403       403
GET  /partner/imports/<id:import_id>/report.csv                  login     login     403       403       ok        403       403
POST /partner/events/<slug:slug>/imports                         login     login     403       403       ok        403       403
# staff home: any signed-in staff account (a signed-in partner is refused every staff page)
GET  /staff                                                      login     login     ok        ok        403       ok        ok
GET  /staff/password                                             login     login     ok        ok        403       ok        ok
POST /staff/password                                             login     login     ok        ok        403       ok        ok
# scanning and the desk: admins and organisers anywhere, volunteers at their events
# (each volunteer's list of events to scan shows its own events only: see the last test)
GET  /staff/scan                                                 login     login     ok        ok        403       ok        ok
GET  /staff/events/<slug:slug>/scan                              login     login     ok        403       403       ok        ok
POST /staff/events/<slug:slug>/scan                              login     login     ok        403       403       ok        ok
# the page's script fetches these two: signed out, it sees the redirect (response.redirected)
POST /staff/events/<slug:slug>/scan/search                      login     login     ok        403       403       ok        ok
GET  /staff/events/<slug:slug>/walkup                            login     login     ok        403       403       ok        ok
POST /staff/events/<slug:slug>/walkup                            login     login     ok        403       403       ok        ok
GET  /staff/events/<slug:slug>/walkup/<id:registration_id>       login     login     ok        403       403       ok        ok
GET  /staff/events/<slug:slug>/registrations/<id:registration_id>/bib.pdf  login     login     ok        403       403       ok        ok
GET  /staff/events/<slug:slug>/enrol                             login     login     ok        403       403       ok        ok
POST /staff/events/<slug:slug>/enrol                             login     login     ok        403       403       ok        ok
GET  /staff/events/<slug:slug>/disputes                          login     login     ok        403       403       ok        ok
POST /staff/events/<slug:slug>/disputes                          login     login     ok        403       403       ok        ok
GET  /staff/enrolments/<number>                                  login     login     ok        403       403       ok        ok
GET  /staff/enrolments/<number>/card.pdf                         login     login     ok        403       403       ok        ok
GET  /staff/enrolments/<number>/kuitansi.pdf                     login     login     ok        403       403       ok        ok
# the installable scan page's shell: no personal data, and the worker must load signed out
GET  /staff/scan-sw.js                                           ok        ok        ok        ok        ok        ok        ok
GET  /staff/events/<slug:slug>/scan/manifest.webmanifest         ok        ok        ok        ok        ok        ok        ok
# supervisors: check-in list and undo, events, bibs, reports, exports
GET  /staff/events/<slug:slug>/checkins                          login     login     403       403       403       ok        ok
POST /staff/checkins/<id:checkin_id>/undo                        login     login     403       403       403       ok        ok
GET  /staff/events                                               login     login     403       403       403       ok        ok
GET  /staff/events/new                                           login     login     403       403       403       ok        ok
POST /staff/events/new                                           login     login     403       403       403       ok        ok
GET  /staff/tours/<slug:slug>/identity                           login     login     403       403       403       ok        ok
POST /staff/tours/<slug:slug>/identity                           login     login     403       403       403       ok        ok
GET  /staff/events/<slug:slug>/edit                              login     login     403       403       403       ok        ok
POST /staff/events/<slug:slug>/edit                              login     login     403       403       403       ok        ok
GET  /staff/events/<slug:slug>/shirt-stock                       login     login     403       403       403       ok        ok
POST /staff/events/<slug:slug>/shirt-stock                       login     login     403       403       403       ok        ok
POST /staff/events/<slug:slug>/registration/<any(open, close):action>  login     login     403       403       403       ok        ok
GET  /staff/events/<slug:slug>/bibs                              login     login     403       403       403       ok        ok
POST /staff/events/<slug:slug>/bibs                              login     login     403       403       403       ok        ok
# a ballot's page and draw button ("here" is first come: the draw is refused, said on the page)
GET  /staff/events/<slug:slug>/ballot                            login     login     403       403       403       ok        ok
POST /staff/events/<slug:slug>/ballot                            login     login     403       403       403       ok        ok
GET  /staff/print-jobs/<id:job_id>                               login     login     403       403       403       ok        ok
GET  /staff/print-jobs/<id:job_id>.pdf                           login     login     403       403       403       ok        ok
GET  /staff/dashboard                                            login     login     403       403       403       ok        ok
GET  /staff/dashboard.json                                       login     login     403       403       403       ok        ok
GET  /staff/totals.<fmt>                                         login     login     403       403       403       ok        ok
GET  /staff/funnel/<by>.<fmt>                                    login     login     403       403       403       ok        ok
GET  /staff/payments                                             login     login     403       403       403       ok        ok
POST /staff/payments                                             login     login     403       403       403       ok        ok
GET  /staff/payments/jobs/<int:job_id>                           login     login     403       403       403       ok        ok
GET  /staff/payments/jobs/<int:job_id>/report.csv                login     login     403       403       403       ok        ok
GET  /staff/roster.<fmt>                                         login     login     403       403       403       ok        ok
GET  /staff/events/<slug:slug>/roster                            login     login     403       403       403       ok        ok
GET  /staff/events/<slug:slug>/roster.<fmt>                      login     login     403       403       403       ok        ok
GET  /staff/events/<slug:slug>/roster/<id:registration_id>       login     login     403       403       403       ok        ok
GET  /staff/enrolment/exports                                    login     login     403       403       403       ok        ok
POST /staff/enrolment/exports                                    login     login     403       403       403       ok        ok
GET  /staff/enrolment/exports/<int:number>.<fmt>                 login     login     403       403       403       ok        ok
# sponsors: lists of eligible NIKs, budgets, statements (organisers and admins)
GET  /staff/sponsors                                             login     login     403       403       403       ok        ok
GET  /staff/sponsors/new                                         login     login     403       403       403       ok        ok
POST /staff/sponsors/new                                         login     login     403       403       403       ok        ok
GET  /staff/sponsors/<code>                                      login     login     403       403       403       ok        ok
POST /staff/sponsors/<code>                                      login     login     403       403       403       ok        ok
POST /staff/sponsors/<code>/list                                 login     login     403       403       403       ok        ok
GET  /staff/sponsors/<code>/statement.<fmt>                      login     login     403       403       403       ok        ok
# messages: delivery, retry, the outbox reader, template previews, broadcasts
GET  /staff/messages                                             login     login     403       403       403       ok        ok
GET  /staff/messages/preview                                     login     login     403       403       403       ok        ok
GET  /staff/messages/<id:message_id>                             login     login     403       403       403       ok        ok
POST /staff/messages/<id:message_id>/retry                       login     login     403       403       403       ok        ok
POST /staff/events/<slug:slug>/messages/retry                    login     login     403       403       403       ok        ok
GET  /staff/events/<slug:slug>/broadcast                         login     login     403       403       403       ok        ok
POST /staff/events/<slug:slug>/broadcast                         login     login     403       403       403       ok        ok
GET  /staff/broadcasts/<id:broadcast_id>                         login     login     403       403       403       ok        ok
# admins only: schedules, people, audit
GET  /staff/enrolment/schedules                                  login     login     403       403       403       403       ok
POST /staff/enrolment/schedules                                  login     login     403       403       403       403       ok
GET  /staff/enrolment/schedules.json                             login     login     403       403       403       403       ok
GET  /staff/enrolment/schedules/new                              login     login     403       403       403       403       ok
POST /staff/enrolment/schedules/new                              login     login     403       403       403       403       ok
GET  /staff/enrolment/schedules/<code>/edit                      login     login     403       403       403       403       ok
POST /staff/enrolment/schedules/<code>/edit                      login     login     403       403       403       403       ok
GET  /staff/audit                                                login     login     403       403       403       403       ok
GET  /staff/privacy                                              login     login     403       403       403       403       ok
POST /staff/privacy                                              login     login     403       403       403       403       ok
GET  /staff/privacy/<id:person_id>                               login     login     403       403       403       403       ok
POST /staff/privacy/<id:person_id>/export                        login     login     403       403       403       403       ok
POST /staff/privacy/<id:person_id>/delete                        login     login     403       403       403       403       ok
GET  /staff/people                                               login     login     403       403       403       403       ok
GET  /staff/people/new                                           login     login     403       403       403       403       ok
POST /staff/people/new                                           login     login     403       403       403       403       ok
GET  /staff/people/<id:user_id>                                  login     login     403       403       403       403       ok
POST /staff/people/<id:user_id>/assignments                      login     login     403       403       403       403       ok
POST /staff/people/<id:user_id>/assignments/<id:assignment_id>/remove  login     login     403       403       403       403       ok
POST /staff/people/<id:user_id>/tokens                           login     login     403       403       403       403       ok
POST /staff/people/<id:user_id>/tokens/<id:token_id>/revoke      login     login     403       403       403       403       ok
POST /staff/people/<id:user_id>/<any(deactivate, reactivate):action>  login     login     403       403       403       403       ok
POST /staff/people/<id:user_id>/sessions/end                     login     login     403       403       403       403       ok
# the API: public reads
GET  /api/v1/events                                              ok        ok        ok        ok        ok        ok        ok
GET  /api/v1/events/<slug:slug>                                  ok        ok        ok        ok        ok        ok        ok
GET  /api/v1/signing-key                                         ok        ok        ok        ok        ok        ok        ok
GET  /api/v1/openapi.json                                        ok        ok        ok        ok        ok        ok        ok
GET  /api/v1/contributions/quote                                 ok        ok        ok        ok        ok        ok        ok
# public, or a partner with its token; a bearer that is no API token is refused, not ignored
POST /api/v1/events/<slug:slug>/registrations                    ok        401       ok        ok        ok        ok        ok
POST /api/v1/registrations/recover                               ok        ok        ok        ok        ok        ok        ok
# the runner's registration by manage token (no account needed, none suffices)
GET  /api/v1/registrations/<token>                               404       ok        404       404       404       404       404
POST /api/v1/registrations/<token>/cancel                        404       ok        404       404       404       404       404
GET  /api/v1/registrations/<token>/bib.pdf                       404       ok        404       404       404       404       404
GET  /api/v1/registrations/<token>/my-data.json                  404       ok        404       404       404       404       404
# scanning staff, volunteers at their events
POST /api/v1/events/<slug:slug>/checkins                         401       401       ok        403       403       ok        ok
GET  /api/v1/events/<slug:slug>/checkins/counts                  401       401       ok        403       403       ok        ok
GET  /api/v1/events/<slug:slug>/roster                           401       401       ok        403       403       ok        ok
POST /api/v1/events/<slug:slug>/enrolments                       401       401       ok        403       403       ok        ok
GET  /api/v1/enrolments/<number>/card.pdf                        401       401       ok        403       403       ok        ok
# supervisors
POST /api/v1/checkins/<id:checkin_id>/undo                       401       401       403       403       403       ok        ok
GET  /api/v1/stats                                               401       401       403       403       403       ok        ok
# a partner's group import (its members' held places): the partner that made it only
POST /api/v1/events/<slug:slug>/group-registrations              401       401       403       403       ok        403       403
GET  /api/v1/imports/<id:import_id>                              401       401       403       403       ok        403       403
GET  /api/v1/imports/<id:import_id>/report.csv                   401       401       403       403       ok        403       403
"""  # noqa: E501 (a table reads better on one line per route)
# fmt: on


@dataclass(frozen=True)
class Row:
    """One line of MATRIX: a route and what each identity should get."""

    method: str
    rule: str
    expected: dict[str, str]

    @property
    def key(self) -> str:
        """``METHOD rule``, as test ids and the route check name it."""
        return f"{self.method} {self.rule}"


def parse_matrix(text: str) -> list[Row]:
    """MATRIX as rows; a malformed line fails loudly rather than being skipped."""
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        # A rule may contain spaces (``<any(open, close):action>``): the outcomes are the
        # last seven words, the method the first.
        words = line.split()
        method, outcomes = words[0], words[-len(IDENTITIES) :]
        rule = line[len(method) :].strip()
        for word in reversed(outcomes):
            rule = rule[: -len(word)].rstrip()
        assert method in ("GET", "POST"), line
        assert all(o in ("ok", "login", "401", "403", "404") for o in outcomes), line
        rows.append(Row(method, rule, dict(zip(IDENTITIES, outcomes, strict=True))))
    return rows


ROWS = parse_matrix(MATRIX)
PASSWORD = "correct horse battery"
#: A manage token of the right shape that no registration has.
UNISSUED_TOKEN = "N0tAT0kenAnyoneH0lds_xyz0123"
API = "/api/"


# --- the world every row is called against ----------------------------------------------


@dataclass
class World:
    """Ids, slugs and secrets of the rows a world is made of (plain values, no ORM)."""

    here: str
    elsewhere: str
    here_id: int
    elsewhere_id: int
    users: dict[str, int]
    emails: dict[str, str]
    api_tokens: dict[str, str]
    manage_token: str
    registration_id: int
    person_id: int
    runner_nik: str
    runner_code: str
    bib_text: str
    checkin_id: int
    participant_number: str
    batch_number: int
    print_job_id: int
    spare_id: int
    spare_assignment_id: int
    spare_token_id: int
    schedules: str
    message_id: int
    broadcast_id: int
    #: The partner's group import (its pages show it).
    group_import_id: int = 0
    #: An organiser's payment file import, done (its page and its report).
    payment_job_id: int = 0


def _event(tour: Tour, slug: str, city: str, prefix: str) -> Event:
    event = Event(
        tour_id=tour.id,
        slug=slug,
        city=city,
        name=f"Fun Run 5K {city}",
        date=date(2030, 12, 13),  # ahead: registration stays open
        start_time=time(6, 0),
        venue="Alun-alun",
        quota=10,
        bib_prefix=prefix,
        bib_first=1,
        bib_last=9999,
        bib_next=1,
    )
    db.session.add(event)
    return event


def _user(email: str, role: Role, password_hash: str | None) -> User:
    user = User(email=email, role=role, password_hash=password_hash)
    db.session.add(user)
    return user


#: The tour's logo (the favicon will do: a real PNG).
TOUR_LOGO = (BASE_DIR / "static" / "favicon.png").read_bytes()


def build_world(password_hash: str) -> World:
    """Two events, every kind of account, and one of each row a route can name."""
    load_file()  # the shipped contribution schedules (enrolment prices with them)
    tour = Tour(slug="tour", name="Tour", organiser="Test", logo=TOUR_LOGO, logo_type="image/png")
    db.session.add(tour)
    db.session.flush()
    here = _event(tour, "jakarta", "Jakarta", "JKT")
    elsewhere = _event(tour, "medan", "Medan", "MDN")
    db.session.flush()
    users = {
        "admin": _user("admin@example.org", Role.ADMIN, password_hash),
        "organiser": _user("organiser@example.org", Role.ORGANISER, password_hash),
        "vol_here": _user("here@example.org", Role.VOLUNTEER, password_hash),
        "vol_else": _user("else@example.org", Role.VOLUNTEER, password_hash),
        # Partners may have a password (their own pages): this one has.
        "partner": _user("partner@example.org", Role.PARTNER, password_hash),
    }
    spare = _user("spare@example.org", Role.VOLUNTEER, password_hash)
    db.session.flush()
    db.session.add_all(
        [
            EventAssignment(user_id=users["vol_here"].id, event_id=here.id),
            EventAssignment(user_id=users["vol_else"].id, event_id=elsewhere.id),
            EventAssignment(user_id=spare.id, event_id=here.id, station="pickup"),
        ]
    )
    db.session.commit()
    api_tokens = {name: create_api_token(user) for name, user in users.items()}
    create_api_token(spare)

    notice = current_privacy_notice("id")
    runner = register(here, clean_registration(person_payload(1), here), notice=notice)
    enrolled = register(here, clean_registration(person_payload(2), here), notice=notice)
    runner_row = db.session.get_one(Registration, runner.snapshot.id)
    enrolled_row = db.session.get_one(Registration, enrolled.snapshot.id)
    runner_code = payload_for(runner_row)
    assert runner_code is not None
    outcome = scan(here, runner_code, user=users["vol_here"], station="pickup")
    assert outcome.http_status == 201, outcome.as_json()
    prepared = enrolment_services.prepare(here, enrol_body(), walkup=False)
    enrolment = enrolment_services.enrol_registered(
        here, enrolled_row, prepared, user=users["vol_here"], locale="id"
    )
    batch = create_batch(user_id=users["admin"].id)
    assert batch is not None
    job = PrintJob(
        event_id=here.id,
        requested_by_id=users["organiser"].id,
        status=PrintJobStatus.DONE,
        total=2,
        done=2,
        pdf_size=15,
    )
    db.session.add(job)
    db.session.commit()
    pdf_path(job.id).parent.mkdir(parents=True, exist_ok=True)
    pdf_path(job.id).write_bytes(b"%PDF-1.4\n%%EOF\n")
    broadcast = Broadcast(event_id=here.id, subject_id="Start pindah", body_id="Gerbang selatan")
    message = Message(
        key="world:confirmed",
        registration_id=runner_row.id,
        event_id=here.id,
        kind="confirmed",
        channel="email",
        status="held",
        sent_to="r***@example.com",
    )
    db.session.add_all([broadcast, message])
    group_import = GroupImport(
        event_id=here.id,
        partner_id=users["partner"].id,
        import_key="world",
        status="done",
        body_format="csv",
        body_sha256="0" * 64,
        total_rows=1,
        processed_rows=1,
        accepted=1,
    )
    db.session.add(group_import)
    db.session.commit()
    payment_job_id = _payment_import()
    world = World(
        here=here.slug,
        elsewhere=elsewhere.slug,
        here_id=here.id,
        elsewhere_id=elsewhere.id,
        users={name: user.id for name, user in users.items()},
        emails={name: user.email for name, user in users.items()},
        api_tokens=api_tokens,
        manage_token=runner.manage_token,
        registration_id=runner_row.id,
        person_id=runner_row.person_id,
        runner_nik=person_payload(1)["nik"],
        runner_code=runner_code,
        bib_text=runner_row.bib or "",
        checkin_id=outcome.checkin.id if outcome.checkin else 0,
        participant_number=enrolment.participant_number,
        batch_number=batch.number,
        print_job_id=job.id,
        spare_id=spare.id,
        spare_assignment_id=db.session.scalar(
            select(EventAssignment.id).where(EventAssignment.user_id == spare.id)
        ),
        spare_token_id=db.session.scalar(select(ApiToken.id).where(ApiToken.user_id == spare.id)),
        schedules=json.dumps(dump_document(), ensure_ascii=False),
        message_id=message.id,
        broadcast_id=broadcast.id,
        group_import_id=group_import.id,
        payment_job_id=payment_job_id,
    )
    db.session.remove()
    return world


def _payment_import() -> int:
    """A payment file uploaded and imported: its job, the kept file and its progress."""
    paid = PaymentFile(filename="world.csv", sha256="1" * 64, status="done")
    job = Job(kind=PAYMENTS_KIND, payload={"filename": "world.csv"}, status="done")
    db.session.add_all([paid, job])
    db.session.commit()
    upload_path(job.id).parent.mkdir(parents=True, exist_ok=True)
    upload_path(job.id).write_bytes(b"participant_number,month,amount\n")
    write_progress(job.id, status="done", rows=0, accepted=0, refused=0, file_id=paid.id)
    return job.id


# --- how each identity calls a route --------------------------------------------------------


def path_values(endpoint: str, world: World, identity: str) -> dict[str, Any]:
    """The URL's parameters, from the world's rows (the token only the runner knows)."""
    values: dict[str, Any] = {
        "slug": world.here,
        "token": world.manage_token if identity == "runner" else UNISSUED_TOKEN,
        "checkin_id": world.checkin_id,
        "job_id": world.print_job_id,
        "registration_id": world.registration_id,
        "person_id": world.person_id,
        "user_id": world.spare_id,
        "assignment_id": world.spare_assignment_id,
        "token_id": world.spare_token_id,
        "number": world.participant_number,
        "fmt": "csv",
        "code": "en",
        "filename": "css/app.css",
        "message_id": world.message_id,
        "broadcast_id": world.broadcast_id,
        "import_id": world.group_import_id,
    }
    overrides: dict[str, dict[str, Any]] = {
        "enrolment.export_file": {"number": world.batch_number},
        "enrolment.schedule_edit": {"code": "bpu-2015"},
        "sponsors.sponsor_page": {"code": "apbd-dki"},
        "sponsors.upload_list": {"code": "apbd-dki"},
        "sponsors.statement_file": {"code": "apbd-dki", "fmt": "pdf"},
        "events.switch_registration": {"action": "close"},
        "events.tour_identity": {"slug": "tour"},
        "events.tour_logo": {"slug": "tour"},
        "events.tour_theme": {"slug": "tour"},
        "accounts.set_active": {"action": "deactivate"},
        "reports.funnel_file": {"by": "city"},
        "reports.payments_job": {"job_id": world.payment_job_id},
        "reports.payments_report": {"job_id": world.payment_job_id},
    }
    values.update(overrides.get(endpoint, {}))
    return values


def schedule_form(document: str) -> dict[str, Any]:
    """The first schedule of ``document`` as the schedule form sends it."""
    fields: dict[str, Any] = {}
    for name, value in form_fields(json.loads(document)["schedules"][0]):
        fields.setdefault(name, []).append(value)
    return fields


def form_body(endpoint: str, world: World, identity: str) -> dict[str, Any]:
    """A valid, harmless form for the page's POST (the CSRF token is added by the caller)."""
    person = person_payload(60 + IDENTITIES.index(identity))  # a NIK of its own
    registration = {
        **{k: person[k] for k in ("full_name", "nik", "birth_date", "gender", "phone")},
        "email": "",
        "emergency_contact": "",
        "emergency_phone": "",
        "shirt_size": "M",
        "member": "n",
        "kpj_number": "",
        "occupation": "",
        "consent": "y",
    }
    event = {
        "city": "Jakarta",
        "name": "Fun Run 5K Jakarta",
        "date": "2030-12-13",
        "start_time": "06:00",
        "timezone": "Asia/Jakarta",
        "venue": "Alun-alun",
        "quota": "12",
        "registration_open": "y",
        "registration_opens_at": "",
        "registration_closes_at": "",
        "bib_prefix": "JKT",
        "bib_first": "1",
        "bib_last": "9999",
        "bib_colour": "#0a7a3d",
        "shirt_sizes": "S, M, L, XL",
        "min_age": "17",
        "max_age": "",
    }
    login_as = world.emails.get(identity, "nobody@example.org")
    bodies: dict[str, dict[str, Any]] = {
        "registration.register_page": registration,
        "registration.manage": {
            "phone": "081299998888",
            "email": "",
            "shirt_size": "S",
            "occupation": "",
            "emergency_contact": "",
            "emergency_phone": "",
        },
        "accounts.login": {"email": login_as, "password": PASSWORD},
        "checkin.scan_page": {"code": world.bib_text},
        "checkin.desk_search": {"q": world.bib_text},
        "checkin.walkup": {**registration, "id_checked": "y"},
        "enrolment.desk": {
            "birth_place": "Jakarta",
            "mother_maiden_name": "Sri Wahyuni",
            "address": "Jl. Kebon Sirih No. 10",
            "occupation": "ojek_driver",
            "declared_income": "1.000.000",
            "months": "1",
            "payment_channel": "cash",
            "consent": "y",
            "action": "review",
        },
        "events.create": {**event, "slug": "bogor", "city": "Bogor", "bib_prefix": "BGR"},
        "events.edit": event,
        "events.tour_identity": {
            "organiser": "Test",
            "colour": "#0A7A3D",
            "accent_colour": "#F2A900",
        },
        "enrolment.schedules": {"document": world.schedules},
        # The preview: prices an example with the stored schedule as its form sends it.
        "enrolment.schedule_edit": {
            **schedule_form(world.schedules),
            "code": "bpu-2031",
            "example_start": "2026-12",
            "action": "preview",
        },
        "accounts.create_account": {
            "email": "new@example.org",
            "role": "organiser",
            "password": PASSWORD,
            "confirm": PASSWORD,
        },
        "privacy.person_page": {"nik": world.runner_nik},
        # The runner's NIK with a phone nobody gave: answered, changes nothing.
        "registration.recover_page": {"nik": world.runner_nik, "contact": "081299990000"},
        # The review step (no action=void): shows the runner holding the NIK, changes nothing.
        "registration.dispute_page": {
            **registration,
            **{k: person_payload(1)[k] for k in ("full_name", "nik", "birth_date", "gender")},
            "reason": "KTP menunjukkan NIK milik orang lain",
            "id_seen": "y",
        },
        "registration.reminders_switch": {"reminders": "off"},
        # A group of one member as a CSV file (the same key again: the same import).
        "partner.upload_group": {
            "import_key": "matrix",
            "file": (
                io.BytesIO(
                    b"full_name,nik,birth_date,gender,phone,shirt_size,member\r\n"
                    b"Agus Salim,3174010101900001,1990-01-01,M,081200000001,M,n\r\n"
                ),
                "members.csv",
            ),
        },
        # "Confirm" on a confirmed place: answered with its page, changes nothing.
        "registration.confirm_hold": {"action": "confirm", "consent": "y", "notice": "1"},
        "registration.representative": {
            "proxy_name": "Agus Wijaya",
            "proxy_phone": "0812 1111 2222",
        },
        "events.shirt_stock": {"size-M": "10"},
        "sponsors.sponsor_new": {"code": "csr-baru", "name": "CSR Baru", "active": "y"},
        "sponsors.sponsor_page": {"name": "APBD DKI", "public_budget": "y", "active": "y"},
        # A payment file of its header alone, queued again by each identity (not run).
        "reports.payments_page": {
            "file": (io.BytesIO(b"participant_number,month,amount\r\n"), "payments.csv"),
        },
        # A list of one NIK, added again by each identity: the same list.
        "sponsors.upload_list": {
            "mode": "add",
            "file": (io.BytesIO(person_payload(5)["nik"].encode()), "list.txt"),
        },
        "privacy.person_delete": {"confirm": "yes"},
        # The preview step: shows the message and the count, sends nothing.
        "messages.broadcast": {"subject_id": "Start pindah", "body_id": "Gerbang selatan"},
        "privacy.person_export_file": {"id_seen": "yes"},
        "accounts.assign": {"event_id": str(world.elsewhere_id), "station": ""},
        "partner.change_password": {
            "current": PASSWORD,
            "password": "a brand new passphrase",
            "confirm": "a brand new passphrase",
        },
        "accounts.change_password": {
            "current": PASSWORD,
            "password": "a brand new passphrase",
            "confirm": "a brand new passphrase",
        },
    }
    return bodies.get(endpoint, {})


def api_body(endpoint: str, world: World, identity: str) -> dict[str, Any] | None:
    """A valid JSON body for the API's POST, or None for a bodiless one."""
    return {
        "api.create_registration": person_payload(70 + IDENTITIES.index(identity)),
        "api.create_checkin": {"code": world.runner_code, "station": "finish"},
        "api.create_enrolment": enrol_body(code=world.runner_code),
        "api.recover_registration": {"nik": world.runner_nik, "contact": "081299990000"},
        "api.create_group_import": {
            "import_key": f"authz-{identity}",
            "members": [_without_consent(person_payload(90 + IDENTITIES.index(identity)))],
        },
    }.get(endpoint)


def _without_consent(body: dict[str, Any]) -> dict[str, Any]:
    """A group member's body: a registration's without consent (the member's own)."""
    return {name: value for name, value in body.items() if name != "consent"}


def query_string(endpoint: str, world: World) -> dict[str, Any]:
    """Query parameters some pages take (the desk opens a scanned runner)."""
    if endpoint == "enrolment.desk":
        return {"registration": world.registration_id}
    if endpoint == "checkin.scan_page":
        return {"station": "finish"}  # the world's check-in is at pickup
    if endpoint in ("api.contribution_quote", "enrolment.calculator"):
        return {"income": 1_000_000, "occupation": "trader", "months": 3}
    return {}


def signed_in_client(app: Flask, world: World, identity: str) -> FlaskClient:
    """A browser as ``identity``: staff and the partner signed in (see the docstring)."""
    client = browser(app)
    if identity in world.users:
        # A server-side session row, as /login makes (staff_sessions.start).
        sid = staff_sessions.open_session(world.users[identity])
        db.session.commit()
        with client.session_transaction() as session:
            session["_user_id"] = str(world.users[identity])
            session["_fresh"] = True
            session[staff_sessions.SESSION_KEY] = sid
    return client


def bearer(world: World, identity: str) -> dict[str, str]:
    """The identity's Authorization header for the API (the runner tries its manage token)."""
    if identity == "runner":
        return {"Authorization": f"Bearer {world.manage_token}"}
    token = world.api_tokens.get(identity)
    return {"Authorization": f"Bearer {token}"} if token else {}


def url_for_row(app: Flask, row: Row, world: World, identity: str) -> tuple[str, str]:
    """The endpoint serving ``row`` and its URL, filled from the world."""
    [rule] = [
        r
        for r in app.url_map.iter_rules()
        if r.rule == row.rule and row.method in (r.methods or ())
    ]
    values = path_values(rule.endpoint, world, identity)
    path = {name: values[name] for name in rule.arguments}
    url = app.url_map.bind("localhost").build(
        rule.endpoint, {**path, **query_string(rule.endpoint, world)}, method=row.method
    )
    return rule.endpoint, url


def call(app: Flask, row: Row, world: World, identity: str) -> tuple[str, TestResponse]:
    """Call ``row``'s route as ``identity`` with real path values and a valid body."""
    endpoint, url = url_for_row(app, row, world, identity)
    client = signed_in_client(app, world, identity)
    if url.startswith(API):
        body = api_body(endpoint, world, identity) if row.method == "POST" else None
        response = client.open(url, method=row.method, json=body, headers=bearer(world, identity))
    else:
        # The partner's API token rides along: pages must ignore it.
        headers = bearer(world, identity) if identity == "partner" else {}
        if row.method == "GET":
            response = client.get(url, headers=headers)
        else:
            data = form_body(endpoint, world, identity)
            data["csrf_token"] = csrf_from(client.get("/login").get_data(as_text=True))
            response = client.post(url, data=data, headers=headers)
    # Read streamed downloads to the end (their request context closes with them).
    response.get_data()
    response.close()
    return endpoint, response


def outcome(response: TestResponse) -> str:
    """``ok``, ``login`` or the status code, as the table writes them."""
    status = response.status_code
    if 300 <= status < 400:
        location = response.headers.get("Location", "")
        return "login" if location.split("?")[0].endswith("/login") else "ok"
    return "ok" if 200 <= status < 300 else str(status)


# --- the tests ------------------------------------------------------------------------------

#: POSTs that the next identity of the same row may repeat with the same kind of answer (a
#: second registration uses another NIK; a second scan of the bib is "already checked in"),
#: so the row goes on in the same world. Any other let-through POST (a cancel, an undo, a
#: new account...) gets the next identity a freshly built world.
REPEATABLE = frozenset(
    {
        "accounts.login",
        "accounts.logout",
        "registration.register_page",
        "registration.manage",
        "registration.dispute_page",
        "registration.recover_page",
        "registration.reminders_switch",
        "registration.representative",
        "registration.confirm_hold",
        "partner.upload_group",
        "events.shirt_stock",
        "sponsors.sponsor_page",
        "sponsors.upload_list",
        "reports.payments_page",
        "api.create_registration",
        "api.recover_registration",
        "checkin.scan_page",
        "api.create_checkin",
        "enrolment.desk",
        "enrolment.exports",
        "enrolment.schedules",
        "events.edit",
        "events.tour_identity",
        "events.switch_registration",
        "bibs.print_bibs",
        "ballot.manage",
        "messages.broadcast",
        "messages.retry",
        "messages.retry_event",
    }
)


class Matrix:
    """The world the rows share: GETs change nothing that matters here, so one world serves
    them all; after a row of POSTs (or a POST let through that is not REPEATABLE) the next
    call gets a new one."""

    def __init__(self, app: Flask, password_hash: str) -> None:
        self.app = app
        self.password_hash = password_hash
        self.current: World | None = None
        #: The next call needs a new world.
        self.stale = False
        #: The next row needs a new world (a POST ran in this one).
        self.spoiled = False

    def world(self) -> World:
        """The world to call against, rebuilt if anything may have changed it."""
        if self.current is None or self.stale:
            if self.current is not None:
                empty_tables()
            self.current = build_world(self.password_hash)
            self.stale = False
        return self.current


def empty_tables() -> None:
    """Delete every row (cheaper than TRUNCATE on PostgreSQL for a few rows per table)."""
    db.session.remove()
    with db.engine.begin() as connection:
        for table in reversed(db.metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture(scope="module")
def matrix(_session_app: Flask) -> Iterator[Matrix]:
    """The shared world of this module; the database is left empty afterwards."""
    shared = Matrix(_session_app, generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000"))
    yield shared
    truncate_all(_session_app)


@pytest.fixture
def rows_world(matrix: Matrix, monkeypatch: pytest.MonkeyPatch) -> Iterator[Matrix]:
    """The matrix in an app context, enrolments priced on the finale's day (the shipped
    2015 schedule), a new world if the previous row posted anything."""
    monkeypatch.setattr(enrolment_services, "utcnow", lambda: FINALE)
    if matrix.spoiled:
        matrix.stale, matrix.spoiled = True, False
    with matrix.app.app_context():
        yield matrix
        db.session.remove()


def test_every_route_is_in_the_table(_session_app: Flask) -> None:
    """A route added without a line here fails: nobody adds an unguarded route silently."""
    routed = {
        f"{method} {rule.rule}"
        for rule in _session_app.url_map.iter_rules()
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    listed = [row.key for row in ROWS]
    assert len(listed) == len(set(listed)), "a route is listed twice"
    assert sorted(routed - set(listed)) == [], "routes missing from MATRIX"
    assert sorted(set(listed) - routed) == [], "MATRIX lists routes the app does not have"


@pytest.mark.parametrize("row", ROWS, ids=[row.key for row in ROWS])
def test_route_answers_each_identity_as_the_table_says(rows_world: Matrix, row: Row) -> None:
    """Every identity calls the route and gets what its column says."""
    got: dict[str, str] = {}
    for identity in IDENTITIES:
        world = rows_world.world()
        if row.method == "POST":
            rows_world.spoiled = True  # set first: a failing call leaves the next row clean
        endpoint, response = call(rows_world.app, row, world, identity)
        got[identity] = outcome(response)
        db.session.remove()
        if row.method == "POST" and got[identity] == "ok" and endpoint not in REPEATABLE:
            rows_world.stale = True
    assert got == row.expected, f"{row.key}: got {got}"


def test_the_api_ignores_a_signed_in_cookie(rows_world: Matrix) -> None:
    """An admin's session cookie alone opens no guarded API route (tokens only), except
    the check-in routes the scan page calls with its session (issue 16, point 3)."""
    world = rows_world.world()
    guarded = [
        row for row in ROWS if row.key.startswith("GET /api/") and row.expected["anon"] == "401"
    ]
    assert guarded
    client = signed_in_client(rows_world.app, world, "admin")
    assert client.get("/staff").status_code == 200  # the cookie does open the pages
    for row in guarded:
        _endpoint, url = url_for_row(rows_world.app, row, world, "admin")
        expected = 200 if SESSION_PATHS.fullmatch(url.split("?")[0]) else 401
        assert client.get(url).status_code == expected, row.key


#: Ids of the other event's rows, passed through this event's addresses: each must be
#: refused, not served (``{reg}``, ``{number}`` and ``{code}`` are a Medan runner's).
CROSS_EVENT = [
    ("vol_here", "GET", "/staff/events/{here}/enrol?registration={reg}", 404),
    ("organiser", "GET", "/staff/events/{here}/roster/{reg}", 404),
    ("vol_here", "GET", "/staff/enrolments/{number}", 403),
    ("vol_here", "GET", "/staff/enrolments/{number}/card.pdf", 403),
    ("vol_here", "GET", "/staff/enrolments/{number}/kuitansi.pdf", 403),
    ("vol_here", "GET", "/api/v1/enrolments/{number}/card.pdf", 403),
    ("vol_here", "POST", "/api/v1/events/{here}/enrolments", 422),
    ("vol_here", "POST", "/api/v1/events/{here}/checkins", 409),
    ("vol_here", "POST", "/staff/events/{here}/scan", 409),
]


def test_another_events_rows_are_refused_through_this_events_addresses(
    rows_world: Matrix,
) -> None:
    """A Jakarta volunteer cannot reach a Medan runner, enrolment or bib via Jakarta's pages."""
    world = rows_world.world()
    rows_world.stale = rows_world.spoiled = True  # rows are added below
    medan = db.session.scalars(select(Event).where(Event.slug == world.elsewhere)).one()
    new = register(
        medan, clean_registration(person_payload(3), medan), notice=current_privacy_notice("id")
    )
    runner = db.session.get_one(Registration, new.snapshot.id)
    code = payload_for(runner)
    prepared = enrolment_services.prepare(medan, enrol_body(), walkup=False)
    number = enrolment_services.enrol_registered(
        medan, runner, prepared, user=None, locale="id"
    ).participant_number
    db.session.remove()
    fill = {"here": world.here, "reg": new.snapshot.id, "number": number}
    for identity, method, template, expected in CROSS_EVENT:
        url = template.format(**fill)
        client = signed_in_client(rows_world.app, world, identity)
        if url.startswith(API):
            body = enrol_body(code=code) if url.endswith("enrolments") else {"code": code}
            response = client.open(
                url,
                method=method,
                json=body if method == "POST" else None,
                headers=bearer(world, identity),
            )
        elif method == "POST":
            token = csrf_from(client.get("/login").get_data(as_text=True))
            response = client.post(url, data={"code": code, "csrf_token": token})
        else:
            response = client.get(url)
        response.get_data()
        assert response.status_code == expected, f"{identity} {method} {url}"
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(CheckIn)) == 1  # the world's own
    # The scan page's event list shows each volunteer its own events only.
    for identity, mine, other in (
        ("vol_here", world.here, world.elsewhere),
        ("vol_else", world.elsewhere, world.here),
    ):
        html = (
            signed_in_client(rows_world.app, world, identity)
            .get("/staff/scan")
            .get_data(as_text=True)
        )
        assert f"/staff/events/{mine}/scan" in html and f"/staff/events/{other}/scan" not in html


def test_revoked_tokens_and_deactivated_accounts_open_nothing(rows_world: Matrix) -> None:
    """Once revoked or deactivated, a credential gets what anonymous gets, on every route
    anonymous is refused (the check-in POST's one-statement path on PostgreSQL included)."""
    world = rows_world.world()
    rows_world.stale = rows_world.spoiled = True  # accounts are changed below
    db.session.execute(
        ApiToken.__table__.update()
        .where(ApiToken.user_id == world.users["vol_here"])
        .values(revoked_at=FINALE)
    )
    db.session.execute(
        User.__table__.update().where(User.id == world.users["organiser"]).values(active=False)
    )
    db.session.commit()
    guarded = [row for row in ROWS if row.expected["anon"] in ("401", "login")]
    wrong = []
    for row in guarded:
        for identity in ("vol_here", "organiser"):
            if identity == "vol_here" and not row.rule.startswith(API):
                continue  # only the volunteer's token is revoked: its password still works
            _endpoint, response = call(rows_world.app, row, world, identity)
            db.session.remove()
            if outcome(response) != row.expected["anon"]:
                wrong.append(f"{identity} {row.key}: {outcome(response)}")
    assert wrong == []
