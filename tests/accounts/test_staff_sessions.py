"""Staff sessions live on the server: signing out, an admin, a password change, deactivation
and the end of the working day end them, whatever copies of the cookie exist.

In-process (the test client) on the session database, SQLite or PostgreSQL; the same
through a real gunicorn is in test_live_sessions.py.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, session
from flask.testing import FlaskClient
from flask_babel import force_locale, gettext
from markupsafe import escape
from sqlalchemy import event, func, select, update

from funrun.accounts import staff_sessions
from funrun.accounts.admin_services import set_password
from funrun.accounts.models import StaffSession, User
from funrun.audit.models import AuditEntry
from funrun.dbtypes import utcnow
from funrun.extensions import db
from tests.accounts.conftest import PASSWORD, PEOPLE, browser, csrf_from, login


def signed_in(app: Flask, email: str) -> FlaskClient:
    client = browser(app)
    assert login(client, email).status_code == 302
    assert client.get("/staff").status_code == 200
    return client


def cookie(client: FlaskClient) -> str:
    saved = client.get_cookie("session")
    assert saved is not None
    return saved.value


def replay(app: Flask, value: str) -> FlaskClient:
    """Another browser holding a copy of a saved cookie."""
    thief = browser(app)
    thief.set_cookie("session", value)
    return thief


def redirected_to_sign_in(client: FlaskClient, path: str = "/staff") -> bool:
    response = client.get(path)
    return response.status_code == 302 and response.location.startswith("/login")


def rows_of(user_id: int) -> list[StaffSession]:
    db.session.rollback()
    return list(
        db.session.scalars(
            select(StaffSession)
            .where(StaffSession.user_id == user_id)
            .order_by(StaffSession.created_at)
        )
    )


def audit_count(action: str) -> int:
    db.session.rollback()
    return db.session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
    )


def test_sign_in_makes_a_row_and_the_cookie_names_it_hashed(app, make_staff):
    staff = make_staff("volunteer", password=PASSWORD)
    client = signed_in(app, staff.email)
    [row] = rows_of(staff.id)
    assert row.ended_at is None
    assert row.user_agent  # the test client's
    with client.session_transaction() as session:
        sid = session[staff_sessions.SESSION_KEY]
    assert len(sid) >= 40
    assert row.id != sid and len(row.id) == 64  # only the hash is stored


def test_a_cookie_saved_before_logout_opens_nothing_afterwards(app, make_staff):
    staff = make_staff("organiser", password=PASSWORD)
    client = signed_in(app, staff.email)
    saved = cookie(client)
    assert replay(app, saved).get("/staff").status_code == 200  # a copy works while signed in
    token = csrf_from(client.get("/staff").get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert redirected_to_sign_in(client)
    thief = replay(app, saved)
    assert redirected_to_sign_in(thief)
    assert redirected_to_sign_in(thief, "/staff/events")
    [row] = rows_of(staff.id)
    assert row.ended_at is not None
    # Signing in again makes a new session; the old cookie stays dead.
    again = signed_in(app, staff.email)
    assert redirected_to_sign_in(replay(app, saved))
    assert again.get("/staff").status_code == 200
    assert [r.ended_at is None for r in rows_of(staff.id)] == [False, True]


def test_a_cookie_without_a_server_session_is_signed_out(app, make_staff):
    """What every cookie was before this change: Flask-Login's keys alone open nothing."""
    staff = make_staff("admin", password=PASSWORD)
    client = browser(app)
    with client.session_transaction() as session:
        session["_user_id"] = str(staff.id)
        session["_fresh"] = True
    assert redirected_to_sign_in(client)
    # Nor another account's session id with this account's user id.
    other = make_staff("volunteer", password=PASSWORD)
    theirs = signed_in(app, other.email)
    with theirs.session_transaction() as session:
        session["_user_id"] = str(staff.id)
    assert redirected_to_sign_in(theirs)


def test_a_planted_session_id_does_not_survive_sign_in(app, make_staff):
    staff = make_staff("volunteer", password=PASSWORD)
    client = browser(app)
    with client.session_transaction() as session:
        session[staff_sessions.SESSION_KEY] = "planted-by-someone-else"
    assert login(client, staff.email).status_code == 302
    with client.session_transaction() as session:
        assert session[staff_sessions.SESSION_KEY] != "planted-by-someone-else"
    assert client.get("/staff").status_code == 200


def test_sessions_end_after_a_working_day(app, make_staff):
    assert app.config["FUNRUN_STAFF_SESSION_HOURS"] == 10
    staff = make_staff("volunteer", password=PASSWORD)
    client = signed_in(app, staff.email)
    age = utcnow() - timedelta(hours=9, minutes=58)
    db.session.execute(update(StaffSession).values(created_at=age))
    db.session.commit()
    assert client.get("/staff").status_code == 200
    db.session.execute(
        update(StaffSession).values(created_at=utcnow() - timedelta(hours=10, minutes=1))
    )
    db.session.commit()
    assert redirected_to_sign_in(client)


def test_the_session_lifetime_is_configurable(app, make_staff):
    staff = make_staff("volunteer", password=PASSWORD)
    client = signed_in(app, staff.email)
    db.session.execute(update(StaffSession).values(created_at=utcnow() - timedelta(hours=3)))
    db.session.commit()
    app.config["FUNRUN_STAFF_SESSION_HOURS"] = 2
    try:
        assert redirected_to_sign_in(client)
    finally:
        app.config["FUNRUN_STAFF_SESSION_HOURS"] = 10


def test_last_seen_is_written_at_most_once_a_minute(app, make_staff):
    staff = make_staff("volunteer", password=PASSWORD)
    client = signed_in(app, staff.email)
    [row] = rows_of(staff.id)
    first = row.last_seen_at
    for _ in range(3):
        assert client.get("/staff").status_code == 200
    assert rows_of(staff.id)[0].last_seen_at == first
    earlier = utcnow() - timedelta(minutes=2)
    db.session.execute(update(StaffSession).values(last_seen_at=earlier))
    db.session.commit()
    assert client.get("/staff").status_code == 200
    touched = rows_of(staff.id)[0].last_seen_at
    assert touched > earlier + timedelta(minutes=1)


def test_an_admin_ends_every_session_of_an_account(app, make_staff, admin):
    admin_client, _admin = admin
    staff = make_staff("volunteer", password=PASSWORD)
    phone, laptop = signed_in(app, staff.email), signed_in(app, staff.email)
    page = admin_client.get(f"{PEOPLE}/{staff.id}")
    html = page.get_data(as_text=True)
    assert f"{PEOPLE}/{staff.id}/sessions/end" in html
    assert html.count("last seen") + html.count("terakhir terlihat") == 2  # both listed
    token = csrf_from(html)
    # Without a valid CSRF token nothing ends.
    refused = admin_client.post(f"{PEOPLE}/{staff.id}/sessions/end", data={"csrf_token": "x"})
    assert refused.status_code == 400
    assert phone.get("/staff").status_code == 200
    done = admin_client.post(f"{PEOPLE}/{staff.id}/sessions/end", data={"csrf_token": token})
    assert done.status_code == 302
    assert redirected_to_sign_in(phone)
    assert redirected_to_sign_in(laptop)
    assert all(row.ended_at is not None for row in rows_of(staff.id))
    db.session.rollback()
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "sessions_end"))
    assert entry is not None
    assert (entry.user_id, entry.target, entry.detail) == (_admin.id, staff.email, "2")
    # The admin's own session is untouched, and the account can sign in again.
    assert admin_client.get(f"{PEOPLE}/{staff.id}").status_code == 200
    assert signed_in(app, staff.email).get("/staff").status_code == 200


def test_deactivating_ends_sessions_for_good(app, make_staff, admin):
    admin_client, _admin = admin
    staff = make_staff("volunteer", password=PASSWORD)
    client = signed_in(app, staff.email)
    token = csrf_from(admin_client.get(f"{PEOPLE}/{staff.id}").get_data(as_text=True))
    assert (
        admin_client.post(f"{PEOPLE}/{staff.id}/deactivate", data={"csrf_token": token}).status_code
        == 302
    )
    assert redirected_to_sign_in(client)
    assert (
        admin_client.post(f"{PEOPLE}/{staff.id}/reactivate", data={"csrf_token": token}).status_code
        == 302
    )
    # Reactivating does not bring the old browser back.
    assert redirected_to_sign_in(client)


def change(client: FlaskClient, current: str, new: str = "a brand new passphrase"):
    token = csrf_from(client.get("/staff/password").get_data(as_text=True))
    return client.post(
        "/staff/password",
        data={"current": current, "password": new, "confirm": new, "csrf_token": token},
    )


def test_a_password_change_ends_the_other_sessions(app, make_staff):
    staff = make_staff("organiser", password=PASSWORD)
    mine, other = signed_in(app, staff.email), signed_in(app, staff.email)
    assert "/staff/password" in mine.get("/staff").get_data(as_text=True)
    wrong = change(mine, "not my password")
    assert wrong.status_code == 422
    with app.test_request_context("/"), force_locale("id"):
        message = str(escape(gettext("The current password is wrong.")))
    assert message in wrong.get_data(as_text=True)
    assert other.get("/staff").status_code == 200  # nothing changed
    done = change(mine, PASSWORD)
    assert done.status_code == 302
    assert mine.get("/staff").status_code == 200  # the browser it was changed from stays
    assert redirected_to_sign_in(other)
    assert audit_count("password_change") == 1
    assert login(browser(app), staff.email).status_code == 401
    assert login(browser(app), staff.email, "a brand new passphrase").status_code == 302


def test_the_current_password_is_guessed_no_faster_than_a_sign_in(app, make_staff):
    """A borrowed, signed-in browser cannot try current passwords freely."""
    staff = make_staff("volunteer", password=PASSWORD)
    client = signed_in(app, staff.email)
    statuses = [change(client, f"guess number {n}").status_code for n in range(5)]
    assert statuses == [422, 422, 422, 422, 429]
    assert change(client, PASSWORD).status_code == 429  # locked: even the right one
    db.session.rollback()
    assert db.session.get(User, staff.id).password_hash is not None
    assert login(browser(app), staff.email).status_code == 429


def test_the_password_form_refuses_bad_new_passwords(app, make_staff):
    staff = make_staff("volunteer", password=PASSWORD)
    client = signed_in(app, staff.email)
    assert change(client, PASSWORD, "short").status_code == 422
    token = csrf_from(client.get("/staff/password").get_data(as_text=True))
    differ = client.post(
        "/staff/password",
        data={
            "current": PASSWORD,
            "password": "a brand new passphrase",
            "confirm": "another passphrase",
            "csrf_token": token,
        },
    )
    assert differ.status_code == 422
    assert audit_count("password_change") == 0
    assert login(browser(app), staff.email).status_code == 302


def test_set_password_keeps_only_the_callers_session(app, make_staff):
    staff = make_staff("organiser", password=PASSWORD)
    mine, other = signed_in(app, staff.email), signed_in(app, staff.email)
    with mine.session_transaction() as saved:
        sid = saved[staff_sessions.SESSION_KEY]
    with app.test_request_context("/"):
        session[staff_sessions.SESSION_KEY] = sid
        assert (
            set_password(
                db.session.get(User, staff.id), "a brand new passphrase", keep_current=True
            )
            == 1
        )
    assert mine.get("/staff").status_code == 200
    assert redirected_to_sign_in(other)


def test_set_password_command_ends_every_session(app, runner, make_staff):
    staff = make_staff("volunteer", password=PASSWORD)
    client = signed_in(app, staff.email)
    result = runner.invoke(
        args=["users", "set-password", staff.email, "--password-stdin"],
        input="another good passphrase\n",
    )
    assert result.exit_code == 0, result.output
    assert "1 sessions ended" in result.output
    assert redirected_to_sign_in(client)
    assert login(browser(app), staff.email).status_code == 401
    assert login(browser(app), staff.email, "another good passphrase").status_code == 302
    short = runner.invoke(
        args=["users", "set-password", staff.email, "--password-stdin"], input="short\n"
    )
    assert short.exit_code != 0
    unknown = runner.invoke(args=["users", "set-password", "nobody@example.org"])
    assert unknown.exit_code != 0


def test_the_api_stays_token_only(app, make_staff):
    """A signed-in browser's cookie is no API credential, and API calls write no session."""
    staff = make_staff("organiser", password=PASSWORD)
    client = signed_in(app, staff.email)
    assert client.get("/api/v1/stats").status_code == 401
    assert client.get("/api/v1/stats", headers=staff.headers).status_code == 200
    assert len(rows_of(staff.id)) == 1


def test_a_staff_page_costs_one_query_for_its_session(app, make_staff):
    """The session row by primary key, joined to its user: one statement, no write
    unless last_seen_at is a minute old."""
    staff = make_staff("volunteer", password=PASSWORD)
    client = signed_in(app, staff.email)
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        assert client.get("/staff").status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    touching = [s for s in statements if "staff_sessions" in s]
    assert len(touching) == 1, statements
    assert touching[0].lstrip().upper().startswith("SELECT")
    assert "users" in touching[0] and "JOIN" in touching[0].upper()
    assert not [s for s in statements if s.lstrip().upper().startswith(("UPDATE", "INSERT"))]


def test_old_session_rows_go_when_the_account_signs_in_again(app, make_staff):
    staff = make_staff("volunteer", password=PASSWORD)
    signed_in(app, staff.email)
    db.session.execute(update(StaffSession).values(created_at=utcnow() - timedelta(days=31)))
    db.session.commit()
    signed_in(app, staff.email)
    assert len(rows_of(staff.id)) == 1
