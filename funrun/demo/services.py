"""Seeding the demo tour and bulk synthetic registrations."""

from __future__ import annotations

import hashlib
import random
import secrets
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Table, func, insert, select, update

from funrun.accounts.services import create_user, find_user
from funrun.dbtx import begin_write
from funrun.dbtypes import utcnow
from funrun.demo.tour2015 import COLOURS, DEMO_OFFSETS, DEMO_USERS, EVENTS, START_TIME, TOUR
from funrun.events.models import DEFAULT_SHIRT_SIZES, Event, Tour
from funrun.extensions import db
from funrun.people.crypto import data_cipher
from funrun.people.models import Person
from funrun.registration.models import Registration, RegistrationSource
from funrun.registration.services import current_privacy_notice

FIRST_NAMES = [
    "Budi",
    "Siti",
    "Agus",
    "Dewi",
    "Rudi",
    "Sri",
    "Andi",
    "Rina",
    "Joko",
    "Ayu",
    "Made",
    "Putu",
    "Wayan",
    "Nur",
    "Hendra",
    "Fitri",
    "Yusuf",
    "Lestari",
    "Dedi",
    "Intan",
]
LAST_NAMES = [
    "Santoso",
    "Wijaya",
    "Rahmawati",
    "Saputra",
    "Hidayat",
    "Kurniawan",
    "Siregar",
    "Nasution",
    "Pratama",
    "Lubis",
    "Sembiring",
    "Setiawan",
    "Gunawan",
    "Hasibuan",
]
OCCUPATIONS = [
    "Pedagang pasar",
    "Pengemudi ojek",
    "Sopir angkot",
    "Petugas PPSU",
    "Karyawan swasta",
    "Nelayan",
    "Petani",
    "Mahasiswa",
]
PROVINCES = [
    "11",
    "12",
    "13",
    "14",
    "16",
    "18",
    "21",
    "31",
    "32",
    "33",
    "34",
    "35",
    "36",
    "51",
    "52",
    "61",
    "64",
    "71",
    "73",
]


def seed_tour(today: date | None = None) -> tuple[Tour, bool]:
    """Create the demo tour and its 11 events unless they exist; True if created.

    The cities race from ``today`` (the machine's date unless given) on: the first city
    today, the others over the coming five weeks (:data:`DEMO_OFFSETS`), every date
    marked illustrative.
    """
    tour = db.session.scalar(select(Tour).where(Tour.slug == TOUR["slug"]))
    if tour is not None:
        return tour, False
    today = today or date.today()
    tour = Tour(**{**TOUR, "name": f"Fun Run 5K {today.year}"})
    db.session.add(tour)
    db.session.flush()
    for index, (slug, city, _day, tz, venue, quota, prefix, _published) in enumerate(EVENTS):
        db.session.add(
            Event(
                tour_id=tour.id,
                slug=slug,
                city=city,
                name=f"Fun Run 5K {city}",
                date=today + timedelta(days=DEMO_OFFSETS[index]),
                date_is_illustrative=True,
                start_time=START_TIME,
                timezone=tz,
                venue=venue,
                quota=quota,
                bib_prefix=prefix,
                bib_colour=COLOURS[index % len(COLOURS)],
                bib_first=1,
                bib_last=max(9999, quota * 2),
                bib_next=1,
                shirt_sizes=list(DEFAULT_SHIRT_SIZES),
                min_age=17,
                # The demo keeps registration open so the whole flow can be tried today.
                registration_open=True,
            )
        )
    db.session.commit()
    return tour, True


def seed_users() -> list[tuple[str, str, str]]:
    """Create the demo staff accounts that do not exist yet; return (email, role, password)."""
    created = []
    for email, role, password, events in DEMO_USERS:
        if find_user(email) is None:
            create_user(email, role, password=password, event_slugs=events)
        created.append((email, role, password))
    return created


#: Indonesian mobile prefixes (after +62) that phonenumbers accepts with 8 more digits.
MOBILE_PREFIXES = ["811", "812", "813", "821", "822", "823", "852", "853", "857", "878", "896"]


def synthetic_mobile(number: int) -> str:
    """A valid Indonesian mobile in E.164 from one random number (the form would accept it)."""
    prefix = MOBILE_PREFIXES[number % len(MOBILE_PREFIXES)]
    return f"+62{prefix}{number // len(MOBILE_PREFIXES) % 10**8:08d}"


def synthetic_nik(index: int, birth: date, female: bool) -> str:
    """A well-formed NIK, unique per ``index``: the region and serial encode the index."""
    block, serial = divmod(index, 9999)
    province = PROVINCES[block % len(PROVINCES)]
    regency = (block // len(PROVINCES)) % 99 + 1
    district = (block // (len(PROVINCES) * 99)) % 99 + 1
    day = birth.day + (40 if female else 0)
    birth_part = f"{day:02d}{birth.month:02d}{birth.year % 100:02d}"
    return f"{province}{regency:02d}{district:02d}{birth_part}{serial + 1:04d}"


def _reserve_ids(table: str, count: int) -> list[int]:
    """``count`` fresh primary keys for ``table`` (a sequence block on PostgreSQL)."""
    if db.session.get_bind().dialect.name == "postgresql":
        sequence = func.pg_get_serial_sequence(table, "id")
        return list(
            db.session.scalars(
                select(func.nextval(sequence)).select_from(func.generate_series(1, count))
            )
        )
    ids = db.metadata.tables[table].c.id
    start = (db.session.scalar(select(func.coalesce(func.max(ids), 0))) or 0) + 1
    return list(range(start, start + count))


def _bulk_insert(table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows: COPY on PostgreSQL (several times faster), executemany elsewhere."""
    if not rows:
        return
    if db.session.get_bind().dialect.name != "postgresql":
        db.session.execute(insert(table), rows)
        return
    columns = list(rows[0])
    raw = db.session.connection().connection.driver_connection
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row([row[c] for c in columns])


def seed_runners(
    count: int,
    *,
    seed: int = 2015,
    batch: int = 10000,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Add ``count`` synthetic registrations over the events, filling quotas into waitlists.

    Bulk inserts (COPY on PostgreSQL) in batches, event counters set once per batch; the
    same invariants as real registrations hold (bibs from the range, gap-free waitlist
    order, one active registration per person and event).
    """
    rng = random.Random(seed)
    cipher = data_cipher()
    notice_id = current_privacy_notice("id").id
    begin_write()
    events = list(db.session.scalars(select(Event).order_by(Event.date)))
    if not events:
        raise RuntimeError("seed the tour first")
    weights = [e.quota for e in events]
    state = {
        e.id: [e.confirmed_count, e.bib_next, e.waitlist_seq, e.quota, e.bib_last] for e in events
    }
    existing = db.session.scalar(select(db.func.count(Person.id))) or 0
    now = utcnow()
    done = 0
    while done < count:
        size = min(batch, count - done)
        people, regs = [], []
        person_ids = _reserve_ids("people", size)
        reg_ids = _reserve_ids("registrations", size)
        for offset in range(size):
            index = existing + done + offset
            female = rng.random() < 0.45
            birth = date(1960, 1, 1) + timedelta(days=rng.randrange(0, 365 * 38))
            nik = synthetic_nik(index, birth, female)
            person_id = person_ids[offset]
            people.append(
                {
                    "id": person_id,
                    "nik_hash": cipher.lookup_hash(nik),
                    "nik_encrypted": cipher.encrypt(nik),
                    "birth_date": birth,
                    "gender": "F" if female else "M",
                    "created_at": now,
                }
            )
            event = rng.choices(events, weights)[0]
            confirmed, bib_next, seq, quota, bib_last = state[event.id]
            member = rng.random() < 0.6
            contact = (
                f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
                if rng.random() < 0.7
                else None
            )
            row: dict[str, Any] = {
                "id": reg_ids[offset],
                "event_id": event.id,
                "person_id": person_id,
                "status": "",
                "bib_number": None,
                "waitlist_seq": None,
                "manage_token_hash": hashlib.sha256(secrets.token_bytes(16)).hexdigest(),
                "full_name": f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                "phone": synthetic_mobile(rng.randrange(10**9, 10**10)),
                "email": None,
                "shirt_size": rng.choice(DEFAULT_SHIRT_SIZES),
                "is_member": member,
                "kpj_number": f"{rng.randrange(10**10, 10**11)}" if member else None,
                "occupation": rng.choice(OCCUPATIONS),
                # Most runners name someone to call, as the form asks.
                "emergency_contact": contact,
                "emergency_phone": synthetic_mobile(rng.randrange(10**9, 10**10))
                if contact
                else None,
                "privacy_notice_id": notice_id,
                "consent_at": now,
                "source": str(RegistrationSource.DEMO),
                "locale": "id",
                "created_by_id": None,
                "created_at": now,
                "updated_at": now,
                "confirmed_at": None,
                "cancelled_at": None,
            }
            if confirmed < quota and bib_next <= bib_last:
                row.update(status="confirmed", bib_number=bib_next, confirmed_at=now)
                state[event.id][0] += 1
                state[event.id][1] += 1
            else:
                row.update(status="waitlisted", waitlist_seq=seq + 1)
                state[event.id][2] += 1
            regs.append(row)
        _bulk_insert(Person.__table__, people)
        _bulk_insert(Registration.__table__, regs)
        for event_id, (confirmed, bib_next, seq, _quota, _last) in state.items():
            db.session.execute(
                update(Event)
                .where(Event.id == event_id)
                .values(confirmed_count=confirmed, bib_next=bib_next, waitlist_seq=seq)
            )
        db.session.commit()
        begin_write()
        done += size
        if progress:
            progress(size)
    db.session.commit()
    return done
