"""The scan service: every answer of the contract, stations, replays, the log and undo.

Scans go through :func:`funrun.checkin.services.scan` exactly as the API and the page
call it; what was stored is read back fresh from the database.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from nacl.signing import SigningKey
from sqlalchemy import update

from funrun.accounts.models import User
from funrun.bibs.services import payload_for
from funrun.bibs.signing import BibSigner, bib_signer
from funrun.checkin.models import CheckIn, ScanResult
from funrun.checkin.services import (
    MAX_CODE,
    UndoError,
    can_scan,
    scan,
    station_counts,
    undo_checkin,
)
from funrun.events.models import Event
from funrun.extensions import db
from funrun.registration.models import Registration, RegistrationStatus
from funrun.registration.validation import ValidationFailed
from tests.checkin.conftest import (
    Staff,
    active_checkins,
    assert_no_payload_in_log,
    cancel_registration,
    counts,
    desk_fields,
    reg,
    scan_logs,
)


@pytest.fixture
def event(make_event: Callable[..., Event]) -> Event:
    """Jakarta: bibs JKT 0042 onwards."""
    return make_event(slug="jakarta", city="Jakarta", bib_prefix="JKT", bib_first=42, quota=5)


@pytest.fixture
def other_event(make_event: Callable[..., Event]) -> Event:
    """Bandung: the same bib numbers, another event."""
    return make_event(slug="bandung", city="Bandung", bib_prefix="BDG", bib_first=42, quota=5)


@pytest.fixture
def volunteer(make_staff, event: Event) -> Staff:
    return make_staff("volunteer", events=(event.slug,))


def user(staff: Staff) -> User:
    return db.session.get(User, staff.id)


def qr(registration_id: int) -> str:
    payload = payload_for(reg(registration_id))
    assert payload is not None
    return payload


def do_scan(event: Event, code: object, staff: Staff, **kw):
    """A scan as the desk sends it (a typed bib with the ID card checked: desk_fields)."""
    kw = {**desk_fields(code), **kw}
    return scan(db.session.get(Event, event.id), code, user=user(staff), **kw)


# --- checked in ------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["42", "0042", "JKT0042", "jkt-0042", "JKT 0042", " 42 "])
def test_typed_bib_checks_in(event, volunteer, add_runners, typed):
    [runner] = add_runners(event, 1)
    assert reg(runner).bib_number == 42

    outcome = do_scan(event, typed, volunteer)

    assert outcome.result == ScanResult.CHECKED_IN
    assert outcome.http_status == 201
    assert outcome.replayed is False
    body = outcome.as_json()
    assert body["registration"]["id"] == runner
    assert body["registration"]["bib"] == "JKT 0042"
    assert body["registration"]["bib_number"] == 42
    assert body["station"] == "pickup"
    assert "nik" not in str(body).lower()
    [checkin] = active_checkins(runner)
    assert checkin.id == body["checkin_id"]
    assert checkin.scanned_by_id == volunteer.id
    [log] = scan_logs()
    assert (log.result, log.code_kind, log.bib_number) == ("checked_in", "typed", 42)


def test_qr_payload_checks_in_and_shows_the_desk_what_it_needs(event, volunteer, add_runners):
    member, guest = add_runners(event, 1, member=True, kpj_number="12345678901") + add_runners(
        event, 1, shirt_size="XL"
    )

    first = do_scan(event, qr(member), volunteer)
    second = do_scan(event, qr(guest), volunteer)

    assert (first.result, second.result) == (ScanResult.CHECKED_IN, ScanResult.CHECKED_IN)
    assert first.as_json()["registration"]["member"] is True
    assert first.as_json()["registration"]["offer_enrolment"] is False
    guest_json = second.as_json()["registration"]
    assert (guest_json["member"], guest_json["offer_enrolment"]) == (False, True)
    assert guest_json["shirt_size"] == "XL"
    assert guest_json["bib"] == "JKT 0043"
    assert [log.code_kind for log in scan_logs()] == ["qr", "qr"]
    assert_no_payload_in_log(qr(member), qr(guest))


def test_scanned_at_becomes_the_checkin_time(event, volunteer, add_runners):
    [runner] = add_runners(event, 1)
    # Queued offline ten minutes ago, received now.
    when = (datetime.now(UTC) - timedelta(minutes=10)).replace(microsecond=0)

    do_scan(event, "42", volunteer, scanned_at=when)

    [checkin] = active_checkins(runner)
    assert checkin.checked_in_at == when
    [log] = scan_logs()
    assert log.scanned_at == when
    assert log.received_at > when


# --- already checked in ----------------------------------------------------------------


def test_second_scan_is_already_with_when_and_by_whom(event, volunteer, make_staff, add_runners):
    [runner] = add_runners(event, 1)
    organiser = make_staff("organiser")
    first = do_scan(event, qr(runner), volunteer)
    first_id, first_at = first.checkin.id, first.checkin.checked_in_at

    again = do_scan(event, "JKT0042", organiser)

    assert again.result == ScanResult.ALREADY
    assert again.http_status == 200
    body = again.as_json()
    assert body["checkin_id"] == first_id
    assert body["first_by"] == volunteer.email
    assert datetime.fromisoformat(body["first_at"]) == first_at
    assert body["registration"]["id"] == runner
    assert len(active_checkins(runner)) == 1
    logs = scan_logs()
    assert [(log.result, log.user_id) for log in logs] == [
        ("checked_in", volunteer.id),
        ("already_checked_in", organiser.id),
    ]
    assert logs[1].checkin_id == first_id


# --- unknown, invalid, wrong event, not confirmed -------------------------------------


def test_unissued_bib_is_unknown(event, volunteer, add_runners):
    add_runners(event, 1)
    for code in ("43", "JKT 9999", "0", bib_signer().sign(event.id, 43)):
        outcome = do_scan(event, code, volunteer)
        assert outcome.result == ScanResult.UNKNOWN, code
        assert outcome.http_status == 404
        assert outcome.as_json()["registration"] is None
    assert counts() == (0, 4)
    assert [log.bib_number for log in scan_logs()] == [43, 9999, 0, 43]


def _change_one(text: str, index: int) -> str:
    index %= len(text)
    replacement = "A" if text[index] != "A" else "B"
    return text[:index] + replacement + text[index + 1 :]


def test_malformed_and_forged_codes_are_invalid(event, other_event, volunteer, add_runners):
    [runner] = add_runners(event, 1)
    genuine = qr(runner)
    prefix, event_id, bib, signature = genuine.split(":")
    stranger = BibSigner(SigningKey.generate())
    codes = {
        "garbage": "hello world",
        "a prefix no event has": "QQQ0042",
        "letters only": "JKT",
        "lower-case payload": genuine.lower(),
        "truncated": genuine[:-1],
        "too long to be typed": "1" * 30,
        "longest code": "x" * MAX_CODE,
        "signature changed": f"{prefix}:{event_id}:{bib}:{_change_one(signature, 50)}",
        "last signature character": f"{prefix}:{event_id}:{bib}:{_change_one(signature, -1)}",
        "bib changed": f"{prefix}:{event_id}:43:{signature}",
        "event changed": f"{prefix}:{other_event.id}:{bib}:{signature}",
        "leading zero": f"{prefix}:{event_id}:0{bib}:{signature}",
        "another key": stranger.sign(event.id, 42),
        "another key, other event": stranger.sign(other_event.id, 42),
    }
    add_runners(event, 1)  # bib 43 exists: a changed number must not open it

    for name, code in codes.items():
        outcome = do_scan(event, code, volunteer)
        assert outcome.result == ScanResult.INVALID, name
        assert outcome.http_status == 422, name
        assert outcome.registration is None, name

    assert counts() == (0, len(codes))
    assert {log.result for log in scan_logs()} == {"invalid"}
    assert_no_payload_in_log(genuine, *codes.values())


def test_genuine_bib_of_another_event_is_wrong_event(event, other_event, volunteer, add_runners):
    [here] = add_runners(event, 1)
    [there] = add_runners(other_event, 1)
    assert reg(here).bib_number == reg(there).bib_number == 42

    outcome = do_scan(event, qr(there), volunteer)

    assert outcome.result == ScanResult.WRONG_EVENT
    assert outcome.http_status == 409
    assert outcome.registration is None
    assert active_checkins(here) == active_checkins(there) == []
    [log] = scan_logs()
    assert (log.result, log.event_id, log.code_kind) == ("wrong_event", event.id, "qr")


def test_cancelled_runners_retired_bib_is_not_confirmed(event, volunteer, add_runners):
    [runner] = add_runners(event, 1)
    payload = qr(runner)
    cancel_registration(runner)
    assert (reg(runner).status, reg(runner).bib_number) == (RegistrationStatus.CANCELLED, 42)

    for code in (payload, "42", "JKT-0042"):
        outcome = do_scan(event, code, volunteer)
        assert outcome.result == ScanResult.NOT_CONFIRMED, code
        assert outcome.http_status == 409
        assert outcome.as_json()["registration"]["status"] == "cancelled"

    assert active_checkins(runner) == []
    assert [log.result for log in scan_logs()] == ["not_confirmed"] * 3
    assert {log.registration_id for log in scan_logs()} == {runner}


def test_waitlisted_runner_is_not_confirmed(event, volunteer, add_runners):
    confirmed = add_runners(event, 5)
    [waiting] = add_runners(event, 1)
    assert reg(waiting).status == RegistrationStatus.WAITLISTED
    assert reg(waiting).bib_number is None
    # A waitlisted runner has no bib; the next number names nobody.
    assert do_scan(event, "47", volunteer).result == ScanResult.UNKNOWN
    # A runner holding a number but not confirmed (set by hand) is refused all the same.
    db.session.execute(
        update(Registration)
        .where(Registration.id == confirmed[0])
        .values(status=RegistrationStatus.WAITLISTED, waitlist_seq=99)
    )
    db.session.commit()

    outcome = do_scan(event, "42", volunteer)

    assert outcome.result == ScanResult.NOT_CONFIRMED
    assert outcome.http_status == 409
    assert outcome.as_json()["registration"]["status"] == "waitlisted"
    assert active_checkins(confirmed[0]) == []


# --- stations --------------------------------------------------------------------------


def test_stations_are_independent(event, volunteer, add_runners):
    [runner, other] = add_runners(event, 2)

    assert do_scan(event, "42", volunteer, station="pickup").result == ScanResult.CHECKED_IN
    assert active_checkins(runner, "start") == []
    assert station_counts(event.id, "start") == {"checked_in": 0, "confirmed": 2}
    assert do_scan(event, "42", volunteer, station="start").result == ScanResult.CHECKED_IN
    assert do_scan(event, "42", volunteer, station="finish").result == ScanResult.CHECKED_IN
    assert do_scan(event, "42", volunteer, station="start").result == ScanResult.ALREADY
    assert do_scan(event, "43", volunteer, station="finish").result == ScanResult.CHECKED_IN

    for station, expected in (("pickup", 1), ("start", 1), ("finish", 2)):
        assert station_counts(event.id, station) == {"checked_in": expected, "confirmed": 2}
    assert active_checkins(other, "pickup") == []
    assert len({c.id for s in ("pickup", "start", "finish") for c in active_checkins(runner, s)})


def test_unknown_station_is_refused_and_nothing_written(event, volunteer, add_runners):
    add_runners(event, 1)
    for station in ("gate", "", "PICKUP", None, 3, ["pickup"]):
        with pytest.raises(ValidationFailed) as refused:
            do_scan(event, "42", volunteer, station=station)
        assert set(refused.value.errors) == {"station"}, station
    assert counts() == (0, 0)


# --- client_ref replays ----------------------------------------------------------------


def test_replayed_client_ref_returns_the_first_outcome_and_changes_nothing(
    event, volunteer, make_staff, add_runners
):
    [runner, other] = add_runners(event, 2)
    first = do_scan(event, qr(runner), volunteer, client_ref="dev-1:0001")
    first_json = first.as_json()
    before = counts()
    assert before == (1, 1)

    replays = [
        do_scan(event, qr(runner), volunteer, client_ref="dev-1:0001"),
        # Even a different code, station or scanner: the first answer stands.
        do_scan(event, "43", volunteer, client_ref="dev-1:0001", station="finish"),
        do_scan(event, "garbage", make_staff("organiser"), client_ref="dev-1:0001"),
    ]

    for replay in replays:
        assert replay.replayed is True
        assert replay.result == ScanResult.CHECKED_IN
        assert replay.http_status == 201
        assert replay.as_json() == {**first_json, "replayed": True}
    assert counts() == before
    assert active_checkins(other) == []
    # Without the client_ref, the same bib is a new scan: already checked in, logged.
    assert do_scan(event, qr(runner), volunteer).result == ScanResult.ALREADY
    assert counts() == (1, 2)


def test_replay_of_a_rejected_scan_is_the_same_rejection(event, volunteer, add_runners):
    add_runners(event, 1)
    first = do_scan(event, "nonsense", volunteer, client_ref="r-1")
    assert first.result == ScanResult.INVALID

    replay = do_scan(event, "42", volunteer, client_ref="r-1")

    assert replay.result == ScanResult.INVALID
    assert replay.as_json() == {**first.as_json(), "replayed": True}
    assert counts() == (0, 1)


def test_replay_of_an_already_answer_keeps_first_at_and_first_by(event, volunteer, add_runners):
    add_runners(event, 1)
    do_scan(event, "42", volunteer)
    first = do_scan(event, "42", volunteer, client_ref="x.1")
    assert first.result == ScanResult.ALREADY

    replay = do_scan(event, "42", volunteer, client_ref="x.1")

    assert replay.as_json() == {**first.as_json(), "replayed": True}
    assert replay.as_json()["first_by"] == volunteer.email
    assert counts() == (1, 2)


# --- the scan log ----------------------------------------------------------------------


def test_every_scan_is_logged_with_user_device_and_result(
    event, other_event, volunteer, add_runners
):
    [runner, cancelled] = add_runners(event, 2)
    [elsewhere] = add_runners(other_event, 1)
    cancelled_qr = qr(cancelled)
    cancel_registration(cancelled)
    codes = [
        (qr(runner), "checked_in"),
        ("JKT0042", "already_checked_in"),
        ("777", "unknown"),
        ("not a bib", "invalid"),
        (qr(elsewhere), "wrong_event"),
        (cancelled_qr, "not_confirmed"),
    ]

    for n, (code, _expected) in enumerate(codes):
        do_scan(event, code, volunteer, device=f"phone-{n}", client_ref=f"ref-{n}")

    logs = scan_logs()
    assert [log.result for log in logs] == [expected for _code, expected in codes]
    assert [log.device for log in logs] == [f"phone-{n}" for n in range(len(codes))]
    assert [log.client_ref for log in logs] == [f"ref-{n}" for n in range(len(codes))]
    assert {log.user_id for log in logs} == {volunteer.id}
    assert {log.event_id for log in logs} == {event.id}
    assert [log.code_kind for log in logs] == ["qr", "typed", "typed", "typed", "qr", "qr"]
    assert logs[0].checkin_id == logs[1].checkin_id is not None
    assert all(log.received_at is not None for log in logs)
    assert_no_payload_in_log(*(code for code, _expected in codes))


# --- undo ------------------------------------------------------------------------------


def test_undo_is_logged_and_frees_the_runner(event, volunteer, make_staff, add_runners):
    [runner] = add_runners(event, 1)
    organiser = make_staff("organiser")
    first = do_scan(event, "42", volunteer)
    first_id = first.checkin.id

    undone = undo_checkin(first_id, user=user(organiser), device="desk")

    assert undone.undone_at is not None and undone.undone_by_id == organiser.id
    assert active_checkins(runner) == []
    assert station_counts(event.id, "pickup")["checked_in"] == 0
    log = scan_logs()[-1]
    assert (log.result, log.user_id, log.checkin_id, log.device) == (
        "undone",
        organiser.id,
        first_id,
        "desk",
    )
    again = do_scan(event, "42", volunteer)
    assert again.result == ScanResult.CHECKED_IN
    assert again.checkin.id != first_id
    assert station_counts(event.id, "pickup")["checked_in"] == 1
    assert db.session.get(CheckIn, first_id).undone_at is not None

    with pytest.raises(UndoError):
        undo_checkin(first_id, user=user(organiser))
    with pytest.raises(UndoError):
        undo_checkin(10_000, user=user(organiser))
    assert [log.result for log in scan_logs()] == ["checked_in", "undone", "checked_in"]


# --- counts ----------------------------------------------------------------------------


def test_counts_are_checked_in_over_confirmed(event, volunteer, add_runners):
    runners = add_runners(event, 6)  # quota 5: one waits
    assert station_counts(event.id, "pickup") == {"checked_in": 0, "confirmed": 5}
    for code in ("42", "43", "43", "44", "nonsense"):
        do_scan(event, code, volunteer)
    assert station_counts(event.id, "pickup") == {"checked_in": 3, "confirmed": 5}
    cancel_registration(runners[4])  # the waiting runner takes the place
    assert station_counts(event.id, "pickup") == {"checked_in": 3, "confirmed": 5}
    cancel_registration(runners[0])  # checked in, then cancelled: still counted as scanned
    assert station_counts(event.id, "pickup")["confirmed"] == 4


# --- bad input -------------------------------------------------------------------------


BAD_INPUT: list[tuple[object, object, str]] = [
    (None, None, "code"),
    ("", None, "code"),
    ("   ", None, "code"),
    (42, None, "code"),
    (["42"], None, "code"),
    ("x" * (MAX_CODE + 1), None, "code"),
    ("42", "", "client_ref"),
    ("42", "x" * 65, "client_ref"),
    ("42", "has space", "client_ref"),
    ("42", "ünïcode", "client_ref"),
    ("42", "semi;colon", "client_ref"),
    ("42", "new\nline", "client_ref"),
    ("42", "ref\n", "client_ref"),
    ("42", 7, "client_ref"),
    ("42", {"a": 1}, "client_ref"),
]


def test_bad_input_is_refused_before_anything_is_written(event, volunteer, add_runners):
    add_runners(event, 1)
    for code, client_ref, field in BAD_INPUT:
        with pytest.raises(ValidationFailed) as refused:
            do_scan(event, code, volunteer, client_ref=client_ref)
        assert field in refused.value.errors, (code, client_ref)
        assert all(refused.value.errors[field])
    assert counts() == (0, 0)


def test_longest_client_ref_is_accepted(event, volunteer, add_runners):
    add_runners(event, 1)
    ref = "A-z_0.9:" * 8
    assert len(ref) == 64
    assert do_scan(event, "42", volunteer, client_ref=ref).result == ScanResult.CHECKED_IN
    assert scan_logs()[0].client_ref == ref


# --- who may scan ----------------------------------------------------------------------


def test_who_may_scan_where(event, other_event, make_staff):
    here = make_staff("volunteer", events=(event.slug,))
    there = make_staff("volunteer", events=(other_event.slug,))
    both = make_staff("volunteer", events=(event.slug, other_event.slug))
    table = {
        here: (True, False),
        there: (False, True),
        both: (True, True),
        make_staff("organiser"): (True, True),
        make_staff("admin"): (True, True),
        make_staff("partner"): (False, False),
    }
    for staff, expected in table.items():
        assert (can_scan(user(staff), event.id), can_scan(user(staff), other_event.id)) == (
            expected
        ), staff.email


def test_checkin_time_defaults_to_now(event, volunteer, add_runners):
    [runner] = add_runners(event, 1)
    before = datetime.now(UTC)
    do_scan(event, "42", volunteer)
    [checkin] = active_checkins(runner)
    assert before - timedelta(seconds=1) <= checkin.checked_in_at <= datetime.now(UTC)
