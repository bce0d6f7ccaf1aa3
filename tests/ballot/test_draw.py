"""The draw itself, on the database the suite runs on (SQLite, and PostgreSQL in its run):
winners confirmed with bibs in draw order, the rest waitlisted in draw order, withdrawn
entries ranked and given nothing, everybody told, and every refusal changing nothing."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select, update

from funrun.ballot.draw import AlreadyDrawn, DrawRefused, draw
from funrun.ballot.order import draw_order
from funrun.ballot.seed import seed_hash
from funrun.events.models import Event
from funrun.extensions import db
from funrun.messages.facts import facts_for
from funrun.messages.models import Message, MessageKind
from funrun.messages.wording import word
from funrun.registration.models import Registration
from tests.ballot.conftest import API, close_entries, enter, enter_many


def rows(event_id: int) -> list[Registration]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(Registration)
            .where(Registration.event_id == event_id)
            .order_by(Registration.ballot_rank)
        )
    )


def kinds(event_id: int) -> Counter[str]:
    return Counter(
        db.session.scalars(select(Message.kind).where(Message.event_id == event_id)).all()
    )


def test_winners_in_draw_order_with_bibs_the_rest_waitlisted_in_order(client, make_ballot):
    event = make_ballot(quota=5, bib_first=101, bib_next=101)
    event_id = event.id
    entries = enter_many(client, event, 12)
    assert {e["registration"]["status"] for e in entries} == {"entered"}
    # Entry 4 withdraws before the draw: ranked like everyone, given nothing.
    token = entries[3]["registration"]["manage_token"]
    assert client.post(f"{API}/registrations/{token}/cancel").status_code == 200
    close_entries(event)

    result = draw(event_id)

    event = db.session.get(Event, event_id)
    assert event.ballot_seed == result.seed and seed_hash(result.seed) == event.ballot_seed_sha256
    assert event.ballot_drawn_at is not None
    order = draw_order(result.seed, range(1, 13))
    drawn = rows(event_id)
    assert [r.entry_number for r in drawn] == order
    assert [r.ballot_rank for r in drawn] == list(range(1, 13))
    in_draw = [r for r in drawn if r.entry_number != 4]
    assert [r.status for r in in_draw] == ["confirmed"] * 5 + ["waitlisted"] * 6
    assert [r.bib_number for r in in_draw[:5]] == [101, 102, 103, 104, 105]
    assert [r.waitlist_seq for r in in_draw[5:]] == [1, 2, 3, 4, 5, 6]
    withdrawn = next(r for r in drawn if r.entry_number == 4)
    assert (withdrawn.status, withdrawn.bib_number, withdrawn.waitlist_seq) == (
        "cancelled",
        None,
        None,
    )
    assert (result.confirmed, result.waitlisted, result.withdrawn) == (5, 6, 1)
    assert (event.confirmed_count, event.bib_next, event.waitlist_seq) == (5, 106, 6)
    assert all(r.confirmed_at is not None for r in in_draw[:5])
    # Everybody told, in the same transaction: 12 entered, 5 won, 6 waitlisted.
    told = kinds(event_id)
    assert told[MessageKind.BALLOT_ENTERED] == 12
    assert told[MessageKind.BALLOT_WON] == 5
    assert told[MessageKind.BALLOT_WAITLISTED] == 6
    won = db.session.scalars(
        select(Message.registration_id).where(Message.kind == MessageKind.BALLOT_WON)
    ).all()
    assert sorted(won) == sorted(r.id for r in in_draw[:5])


def test_places_taken_before_the_draw_are_kept(client, make_ballot):
    event = make_ballot(quota=5)
    event_id = event.id
    enter_many(client, event, 6)
    # A partner's group took two places (bibs 1 and 2) before the draw.
    db.session.execute(
        update(Event).where(Event.id == event_id).values(confirmed_count=2, bib_next=3)
    )
    db.session.commit()
    close_entries(event)

    result = draw(event_id)

    assert (result.confirmed, result.waitlisted) == (3, 3)
    drawn = rows(event_id)
    assert [r.bib_number for r in drawn[:3]] == [3, 4, 5]
    event = db.session.get(Event, event_id)
    assert (event.confirmed_count, event.bib_next) == (5, 6)


def test_bib_range_limits_the_winners(client, make_ballot):
    event = make_ballot(quota=10, bib_first=1, bib_last=3, bib_next=1)
    enter_many(client, event, 5)
    close_entries(event)
    result = draw(event.id)
    assert (result.confirmed, result.waitlisted) == (3, 2)


def test_non_members_fill_their_pool_first(client, make_ballot):
    event = make_ballot(quota=4, pool_non_member=2)
    event_id = event.id
    for index in range(10):
        member = index % 2 == 0  # even entries are members with a KPJ number
        extra = {"member": True, "kpj_number": f"1{index:010d}"} if member else {}
        assert enter(client, event, index, **extra).status_code == 201
    close_entries(event)

    draw(event_id)

    drawn = rows(event_id)
    members = {r.entry_number for r in drawn if r.is_member}
    order = [r.entry_number for r in drawn]
    first_two_non_members = [n for n in order if n not in members][:2]
    general = [n for n in order if n not in first_two_non_members][:2]
    confirmed = {r.entry_number: r.pool for r in drawn if r.status == "confirmed"}
    assert set(confirmed) == set(first_two_non_members) | set(general)
    assert [confirmed[n] for n in first_two_non_members] == ["non_member", "non_member"]
    assert [confirmed[n] for n in general] == [None, None]
    event = db.session.get(Event, event_id)
    assert (event.confirmed_count, event.pool_non_member_taken) == (4, 2)


def snapshot(event_id: int) -> tuple[object, ...]:
    db.session.expire_all()
    event = db.session.get(Event, event_id)
    return (
        event.confirmed_count,
        event.waitlist_seq,
        event.bib_next,
        event.ballot_seed,
        event.ballot_drawn_at,
        tuple(db.session.execute(select(Registration.status, Registration.ballot_rank)).all()),
        db.session.scalar(select(func.count()).select_from(Message)),
    )


def test_draw_before_entries_close_is_refused_and_changes_nothing(client, make_ballot):
    event = make_ballot(quota=2)
    event_id = event.id
    enter_many(client, event, 3)
    before = snapshot(event_id)
    with pytest.raises(DrawRefused, match="masih dibuka"):
        draw(event_id)
    assert snapshot(event_id) == before


def test_second_draw_is_refused_and_changes_nothing(client, make_ballot):
    event = make_ballot(quota=2)
    event_id = event.id
    enter_many(client, event, 4)
    close_entries(event)
    draw(event_id)
    after_first = snapshot(event_id)
    with pytest.raises(AlreadyDrawn):
        draw(event_id)
    assert snapshot(event_id) == after_first


def test_a_first_come_event_has_no_draw(make_event):
    event = make_event()
    with pytest.raises(DrawRefused, match="tidak memakai undian"):
        draw(event.id)


def test_an_empty_ballot_draws_nothing_and_publishes_its_seed(make_ballot):
    event = make_ballot()
    close_entries(event)
    result = draw(event.id)
    assert result.entries == 0
    assert db.session.get(Event, event.id).ballot_seed == result.seed


@pytest.mark.parametrize("locale", ["id", "en"])
def test_the_three_messages_say_what_happened(client, make_ballot, locale):
    event = make_ballot(quota=1)
    enter_many(client, event, 2, locale=locale)
    close_entries(event)
    draw(event.id)
    texts = {}
    for message in db.session.scalars(select(Message).order_by(Message.id)):
        facts = facts_for(message)
        texts[message.kind, message.registration_id] = word(facts).text()
    won = next(r for r in rows(event.id) if r.status == "confirmed")
    waiting = next(r for r in rows(event.id) if r.status == "waitlisted")
    entered = texts[MessageKind.BALLOT_ENTERED, won.id]
    bib = won.bib
    if locale == "id":
        assert "Nomor undian: " in entered and "belum berarti dapat tempat" in entered
        assert f"Nomor BIB: {bib}" in texts[MessageKind.BALLOT_WON, won.id]
        assert "Urutan di daftar tunggu: 1" in texts[MessageKind.BALLOT_WAITLISTED, waiting.id]
    else:
        assert f"Entry number: {won.entry_number}" in entered
        assert f"Bib number: {bib}" in texts[MessageKind.BALLOT_WON, won.id]
        assert "Waitlist position: 1" in texts[MessageKind.BALLOT_WAITLISTED, waiting.id]


def test_a_partners_group_member_drawn_is_held_for_them(client, make_ballot, make_staff):
    """A member a partner entered without their own consent yet: drawn to a place, the
    place is held for them (a bib, the event's hold days) and they are invited."""
    from funrun.groups.models import GroupImport

    event = make_ballot(quota=10, group_hold_days=5)
    event_id = event.id
    [body] = enter_many(client, event, 1)
    partner = make_staff("partner")
    group = GroupImport(
        event_id=event_id,
        partner_id=partner.id,
        import_key="ballot",
        status="done",
        body_format="csv",
        body_sha256="0" * 64,
        total_rows=1,
        processed_rows=1,
        accepted=1,
    )
    db.session.add(group)
    db.session.flush()
    db.session.execute(
        update(Registration)
        .where(Registration.id == body["registration"]["id"])
        .values(consent_at=None, group_import_id=group.id, partner_id=partner.id)
    )
    db.session.commit()
    close_entries(event)

    result = draw(event_id)

    assert (result.confirmed, result.held) == (0, 1)
    [member] = rows(event_id)
    assert (member.status, member.bib_number, member.pool) == ("held", 1, None)
    assert member.hold_expires_at is not None and member.confirmed_at is None
    assert kinds(event_id)[MessageKind.GROUP_INVITE] == 1
    assert db.session.get(Event, event_id).confirmed_count == 1
