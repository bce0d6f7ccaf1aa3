"""Seeding the demo tour and bulk synthetic registrations."""

from __future__ import annotations

import hashlib
import random
import secrets
from collections.abc import Callable
from datetime import date, timedelta

from sqlalchemy import insert, select, update

from funrun.accounts.services import create_user, find_user
from funrun.dbtypes import utcnow
from funrun.demo.tour2015 import DEMO_USERS, EVENTS, START_TIME, TOUR
from funrun.events.models import DEFAULT_SHIRT_SIZES, Event, Tour
from funrun.extensions import db
from funrun.people.crypto import data_cipher
from funrun.people.models import Person
from funrun.registration.models import Registration, RegistrationSource, RegistrationStatus
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


def seed_tour() -> tuple[Tour, bool]:
    """Create the 2015 tour and its 11 events unless they exist; True if created."""
    tour = db.session.scalar(select(Tour).where(Tour.slug == TOUR["slug"]))
    if tour is not None:
        return tour, False
    tour = Tour(**TOUR)
    db.session.add(tour)
    db.session.flush()
    for slug, city, day, tz, venue, quota, prefix, illustrative in EVENTS:
        db.session.add(
            Event(
                tour_id=tour.id,
                slug=slug,
                city=city,
                name=f"Fun Run 5K {city}",
                date=day,
                date_is_illustrative=illustrative,
                start_time=START_TIME,
                timezone=tz,
                venue=venue,
                quota=quota,
                bib_prefix=prefix,
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


def seed_runners(
    count: int,
    *,
    seed: int = 2015,
    batch: int = 5000,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Add ``count`` synthetic registrations over the events, filling quotas into waitlists.

    Bulk inserts (executemany) in batches, event counters updated once per batch; the same
    invariants as real registrations hold (bibs from the range, gap-free waitlist order).
    """
    rng = random.Random(seed)
    cipher = data_cipher()
    events = list(db.session.scalars(select(Event).order_by(Event.date)))
    if not events:
        raise RuntimeError("seed the tour first")
    notice_id = current_privacy_notice("id").id
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
        for i in range(done, done + size):
            index = existing + i
            female = rng.random() < 0.45
            birth = date(1960, 1, 1) + timedelta(days=rng.randrange(0, 365 * 38))
            nik = synthetic_nik(index, birth, female)
            people.append(
                {
                    "nik_hash": cipher.lookup_hash(nik),
                    "nik_encrypted": cipher.encrypt(nik),
                    "birth_date": birth,
                    "gender": "F" if female else "M",
                    "created_at": now,
                }
            )
        ids = (
            db.session.execute(
                insert(Person).returning(Person.id, sort_by_parameter_order=True), people
            )
            .scalars()
            .all()
        )
        for person_id in ids:
            event = rng.choices(events, weights)[0]
            confirmed, bib_next, seq, quota, bib_last = state[event.id]
            token_hash = hashlib.sha256(secrets.token_bytes(16)).hexdigest()
            member = rng.random() < 0.6
            row = {
                "event_id": event.id,
                "person_id": person_id,
                "manage_token_hash": token_hash,
                "full_name": f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                "phone": synthetic_mobile(rng.randrange(10**9, 10**10)),
                "email": None,
                "shirt_size": rng.choice(DEFAULT_SHIRT_SIZES),
                "is_member": member,
                "kpj_number": f"{rng.randrange(10**10, 10**11)}" if member else None,
                "occupation": rng.choice(OCCUPATIONS),
                "emergency_contact": None,
                "emergency_phone": None,
                "privacy_notice_id": notice_id,
                "consent_at": now,
                "source": RegistrationSource.DEMO,
                "locale": "id",
                "created_by_id": None,
                "created_at": now,
                "updated_at": now,
                "cancelled_at": None,
            }
            if confirmed < quota and bib_next <= bib_last:
                row.update(
                    status=RegistrationStatus.CONFIRMED,
                    bib_number=bib_next,
                    waitlist_seq=None,
                    confirmed_at=now,
                )
                state[event.id][0] += 1
                state[event.id][1] += 1
            else:
                row.update(
                    status=RegistrationStatus.WAITLISTED,
                    bib_number=None,
                    waitlist_seq=seq + 1,
                    confirmed_at=None,
                )
                state[event.id][2] += 1
            regs.append(row)
        db.session.execute(insert(Registration), regs)
        for event_id, (confirmed, bib_next, seq, _quota, _last) in state.items():
            db.session.execute(
                update(Event)
                .where(Event.id == event_id)
                .values(confirmed_count=confirmed, bib_next=bib_next, waitlist_seq=seq)
            )
        db.session.commit()
        done += size
        if progress:
            progress(size)
    return done
