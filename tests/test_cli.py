"""The ``flask`` commands of the contract: db upgrade, seed-demo, users create, tokens create."""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from datetime import date, timedelta

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, select, update

from config import BASE_DIR
from funrun.accounts.models import ApiToken, EventAssignment, User
from funrun.accounts.services import check_login, user_for_token
from funrun.dbtypes import utcnow
from funrun.events.models import Event, Tour
from funrun.extensions import db
from funrun.people.crypto import data_cipher
from funrun.people.models import Person
from funrun.people.nik import check_nik
from funrun.registration.models import Registration
from funrun.registration.validation import age_on, normalise_mobile
from tests.conftest import person_payload

#: seed-demo --today: the first city races that day, the Jakarta finale five weeks on.
TOUR_START, TOUR_END = date(2026, 3, 1), date(2026, 4, 5)


def fresh() -> None:
    """Forget what this session read: the command wrote through its own session."""
    db.session.rollback()
    db.session.expire_all()


def migration_heads() -> tuple[set[str], set[str]]:
    script = ScriptDirectory(str(BASE_DIR / "migrations"))
    with db.engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    return current, set(script.get_heads())


# --- db upgrade ------------------------------------------------------------------------


def test_db_upgrade_is_idempotent(runner, make_event):
    event = make_event(city="Batam")
    current, heads = migration_heads()
    assert current == heads  # the session database is at head already
    for _ in range(2):
        result = runner.invoke(args=["db", "upgrade"])
        assert result.exit_code == 0, result.output
        assert "Traceback" not in result.output
    fresh()
    assert migration_heads()[0] == heads
    assert db.session.scalar(select(Event.city).where(Event.id == event.id)) == "Batam"


# --- seed-demo -------------------------------------------------------------------------


def test_seed_demo_creates_the_2015_tour(runner):
    result = runner.invoke(args=["seed-demo", "--today", "2026-03-01"])
    assert result.exit_code == 0, result.output
    assert "funrun-2015" in result.output
    fresh()
    assert db.session.scalar(select(func.count(Tour.id))) == 1
    events = list(db.session.scalars(select(Event).order_by(Event.date)))
    assert len(events) == 11
    assert len({e.city for e in events}) == 11
    jakarta = [e for e in events if e.city == "Jakarta"]
    assert len(jakarta) == 1
    assert jakarta[0].quota == 5000
    assert jakarta[0].date == TOUR_END
    assert jakarta[0].bib_prefix == "JKT"
    assert all(e.quota == 1000 for e in events if e.city != "Jakarta")
    assert events[0].date == TOUR_START
    assert all(TOUR_START <= e.date <= TOUR_END for e in events)
    assert len({e.bib_prefix for e in events}) == 11
    assert all(e.confirmed_count == 0 and e.bib_last >= e.quota for e in events)
    assert sum(e.quota for e in events) == 15000
    # Demo log-ins are printed, and they work.
    logins = re.findall(r"demo log-in\s+(\w+)\s+(\S+@\S+)\s+password: (\S+)", result.output)
    assert {role for role, _email, _password in logins} >= {"admin", "organiser", "volunteer"}
    for role, email, password in logins:
        user = check_login(email, password)
        assert user is not None and user.role == role, email
    volunteer = next(email for role, email, _p in logins if role == "volunteer")
    scoped = db.session.scalars(
        select(Event.slug)
        .join(EventAssignment, EventAssignment.event_id == Event.id)
        .join(User, User.id == EventAssignment.user_id)
        .where(User.email == volunteer)
    ).all()
    assert scoped == ["batam-2015"]  # the city racing "today"
    assert "first city: Batam (batam-2015) on 2026-03-01" in result.output


def test_seed_demo_races_from_the_machines_date(runner):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    fresh()
    events = list(db.session.scalars(select(Event).order_by(Event.date)))
    today = date.today()
    assert [e.city for e in events if e.date == today] == ["Batam"]
    assert all(today <= e.date <= today + timedelta(days=35) for e in events)
    assert events[-1].city == "Jakarta"
    assert all(e.date_is_illustrative and e.registration_open for e in events)
    assert all(e.accepts_registrations(utcnow()) for e in events)


def test_seed_demo_refuses_a_bad_today(runner):
    result = runner.invoke(args=["seed-demo", "--today", "2026-13-01"])
    assert result.exit_code != 0
    fresh()
    assert db.session.scalar(select(func.count(Tour.id))) == 0


def test_seed_demo_twice_keeps_one_tour(runner):
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    again = runner.invoke(args=["seed-demo"])
    assert again.exit_code == 0, again.output
    assert "kept" in again.output
    quiet = runner.invoke(args=["seed-demo", "--if-empty"])
    assert quiet.exit_code == 0
    # make run calls this on every start: it keeps the tour and prints the demo log-ins.
    assert "kept" in quiet.output
    assert "demo log-in" in quiet.output
    fresh()
    assert db.session.scalar(select(func.count(Event.id))) == 11
    assert db.session.scalar(select(func.count(User.id))) == 3


def check_quota_invariants(expected_total: int) -> dict[int, dict[str, int]]:
    """The invariants real registrations keep, checked over everything in the database."""
    fresh()
    cipher = data_cipher()
    registrations = list(db.session.scalars(select(Registration)))
    assert len(registrations) == expected_total
    events = {e.id: e for e in db.session.scalars(select(Event))}
    by_event: dict[int, list[Registration]] = defaultdict(list)
    for registration in registrations:
        by_event[registration.event_id].append(registration)
    figures = {}
    for event_id, event in events.items():
        rows = by_event.get(event_id, [])
        confirmed = [r for r in rows if r.status == "confirmed"]
        waitlisted = [r for r in rows if r.status == "waitlisted"]
        assert len(confirmed) + len(waitlisted) == len(rows)
        assert event.confirmed_count == len(confirmed), event.slug
        assert event.confirmed_count <= event.quota, event.slug
        bibs = sorted(r.bib_number for r in confirmed)
        assert len(set(bibs)) == len(bibs), event.slug
        assert bibs == list(range(event.bib_first, event.bib_first + len(bibs))), event.slug
        assert event.bib_next == event.bib_first + len(bibs), event.slug
        assert all(r.waitlist_seq is None for r in confirmed)
        seqs = sorted(r.waitlist_seq for r in waitlisted)
        assert seqs == list(range(1, len(seqs) + 1)), event.slug
        assert event.waitlist_seq == len(seqs), event.slug
        if waitlisted:
            assert event.confirmed_count == event.quota, event.slug  # only full events wait
        figures[event_id] = {"confirmed": len(confirmed), "waitlisted": len(waitlisted)}
    people = list(db.session.scalars(select(Person)))
    assert len(people) == expected_total
    niks = set()
    for person in people:
        nik = cipher.decrypt(person.nik_encrypted)
        assert re.fullmatch(r"[0-9]{16}", nik), nik
        assert cipher.lookup_hash(nik) == person.nik_hash
        assert check_nik(nik, person.birth_date, person.gender).errors == [], nik
        niks.add(nik)
    assert len(niks) == len(people)
    for registration in registrations:
        event = events[registration.event_id]
        person = registration.person
        assert age_on(person.birth_date, event.date) >= event.min_age
        assert registration.source == "demo"
        assert registration.privacy_notice_id is not None
        assert registration.consent_at is not None
        # What the form would accept, so a demo runner can save corrections.
        assert normalise_mobile(registration.phone) == registration.phone, registration.phone
        assert registration.shirt_size in event.shirt_sizes
        if registration.is_member:
            assert re.fullmatch(r"[0-9]{11}", registration.kpj_number or "")
        else:
            assert registration.kpj_number is None
    return figures


def test_seed_demo_with_runners_keeps_every_invariant(runner):
    result = runner.invoke(args=["seed-demo", "--runners", "500"])
    assert result.exit_code == 0, result.output
    assert "added 500 registrations" in result.output
    figures = check_quota_invariants(500)
    assert sum(f["confirmed"] for f in figures.values()) == 500  # 15,000 places: none wait
    assert sum(1 for f in figures.values() if f["confirmed"]) >= 8  # spread over the cities
    fresh()
    jakarta = db.session.scalar(select(Event).where(Event.slug == "jakarta-2015"))
    assert figures[jakarta.id]["confirmed"] == max(f["confirmed"] for f in figures.values())


def test_seed_runners_fill_quotas_into_waitlists(runner):
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    fresh()
    db.session.execute(update(Event).values(quota=10))
    db.session.commit()
    result = runner.invoke(args=["seed-demo", "--runners", "300"])
    assert result.exit_code == 0, result.output
    figures = check_quota_invariants(300)
    assert all(f["confirmed"] == 10 for f in figures.values())
    assert sum(f["waitlisted"] for f in figures.values()) == 300 - 110
    # A second batch continues the numbering without collisions.
    more = runner.invoke(args=["seed-demo", "--runners", "50"])
    assert more.exit_code == 0, more.output
    check_quota_invariants(350)


def test_seed_runners_need_a_non_negative_count(runner):
    result = runner.invoke(args=["seed-demo", "--runners", "-5"])
    assert result.exit_code != 0
    fresh()
    assert db.session.scalar(select(func.count(Registration.id))) == 0


# --- users create ----------------------------------------------------------------------


def test_users_create_scoped_volunteer(runner, make_event):
    event = make_event()
    other = make_event()
    slug, other_slug = event.slug, other.slug
    result = runner.invoke(
        args=["users", "create", "a@b.test", "--role", "volunteer", "--event", slug]
    )
    assert result.exit_code == 0, result.output
    assert "created volunteer a@b.test" in result.output
    password = re.search(r"password: (\S+)", result.output)
    assert password, result.output
    fresh()
    user = check_login("a@b.test", password.group(1))
    assert user is not None and user.role == "volunteer"
    assert user.password_hash and password.group(1) not in user.password_hash
    scoped = [a.event_id for a in user.assignments]
    assert scoped == [db.session.scalar(select(Event.id).where(Event.slug == slug))]
    two = runner.invoke(
        args=[
            "users",
            "create",
            "two@b.test",
            "--role",
            "volunteer",
            "--event",
            slug,
            "--event",
            other_slug,
        ]
    )
    assert two.exit_code == 0, two.output
    fresh()
    user = db.session.scalar(select(User).where(User.email == "two@b.test"))
    assert len(user.assignments) == 2


def test_users_create_reads_the_password_from_stdin(runner):
    result = runner.invoke(
        args=["users", "create", "org@b.test", "--role", "organiser", "--password-stdin"],
        input="correct horse battery\n",
    )
    assert result.exit_code == 0, result.output
    assert "password:" not in result.output
    fresh()
    assert check_login("org@b.test", "correct horse battery") is not None
    assert check_login("org@b.test", "correct horse battery\n") is None
    assert check_login("org@b.test", "wrong password") is None


def test_users_create_refuses_a_short_stdin_password(runner):
    result = runner.invoke(
        args=["users", "create", "short@b.test", "--role", "admin", "--password-stdin"],
        input="short\n",
    )
    assert result.exit_code != 0
    assert "password" in result.output
    fresh()
    assert db.session.scalar(select(func.count(User.id))) == 0


def test_users_create_unknown_event_fails_clearly(runner, make_event):
    make_event()
    result = runner.invoke(
        args=["users", "create", "v@b.test", "--role", "volunteer", "--event", "atlantis-2015"]
    )
    assert result.exit_code != 0
    assert "atlantis-2015" in result.output
    assert "Traceback" not in result.output
    fresh()
    assert db.session.scalar(select(func.count(User.id))) == 0
    assert db.session.scalar(select(func.count(EventAssignment.id))) == 0


def test_users_create_duplicate_email_fails_clearly(runner):
    first = runner.invoke(args=["users", "create", "dup@b.test", "--role", "organiser"])
    assert first.exit_code == 0, first.output
    for email in ("dup@b.test", "DUP@B.TEST"):
        again = runner.invoke(args=["users", "create", email, "--role", "admin"])
        assert again.exit_code != 0, email
        assert "already exists" in again.output
        assert "Traceback" not in again.output
    fresh()
    users = db.session.scalars(select(User)).all()
    assert [(u.email, u.role) for u in users] == [("dup@b.test", "organiser")]


def test_users_create_rejects_bad_roles_and_emails(runner):
    bad_role = runner.invoke(args=["users", "create", "r@b.test", "--role", "superuser"])
    assert bad_role.exit_code == 2
    bad_email = runner.invoke(args=["users", "create", "not-an-email", "--role", "admin"])
    assert bad_email.exit_code != 0
    assert "not-an-email" in bad_email.output
    fresh()
    assert db.session.scalar(select(func.count(User.id))) == 0


# --- tokens create ---------------------------------------------------------------------


def test_tokens_create_prints_only_the_token(runner, client, make_event):
    event = make_event()
    made = runner.invoke(args=["users", "create", "api@partner.test", "--role", "partner"])
    assert made.exit_code == 0, made.output
    assert "password:" not in made.output  # partners have tokens only
    result = runner.invoke(args=["tokens", "create", "api@partner.test"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    token = lines[0]
    assert result.stdout == token + "\n"
    assert re.fullmatch(r"[A-Za-z0-9_\-]{32,}", token)
    fresh()
    user = user_for_token(token)
    assert user is not None and user.email == "api@partner.test"
    # Only the hash is stored.
    row = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    stored = [str(getattr(row, c.key)) for c in ApiToken.__table__.columns]
    assert all(token not in value for value in stored)
    # The token works on the API, as the partner.
    response = client.post(
        f"/api/v1/events/{event.slug}/registrations",
        json=person_payload(1),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    fresh()
    registration = db.session.get(Registration, response.get_json()["registration"]["id"])
    assert (registration.source, registration.created_by_id) == ("partner", user.id)
    # A second token is different; both work.
    second = runner.invoke(args=["tokens", "create", "API@partner.test"]).stdout.strip()
    assert second != token
    fresh()
    assert user_for_token(second) is not None and user_for_token(token) is not None


def test_tokens_create_for_an_unknown_account_fails(runner):
    result = runner.invoke(args=["tokens", "create", "nobody@partner.test"])
    assert result.exit_code != 0
    assert "nobody@partner.test" in result.output
    assert result.stdout.strip() == "" or "frn_" not in result.stdout
    fresh()
    assert db.session.scalar(select(func.count(ApiToken.id))) == 0
