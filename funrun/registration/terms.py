"""What registering reads of an event first: its terms and the privacy notice in force.

One Core statement on every database; on PostgreSQL it runs on the fast path's own
autocommit connections (no session, so no transaction of the request's), elsewhere on
the session. What a process read is remembered for a few seconds (:mod:`terms_cache`):
nothing that decides a place rests on it, the write checks the window under the lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from flask import current_app
from sqlalchemy import Select, and_, bindparam, case, null, select

from funrun import fastdb
from funrun.dbtypes import utcnow
from funrun.events.models import Event
from funrun.extensions import db
from funrun.registration import places, terms_cache
from funrun.registration.models import Pool, PrivacyNotice
from funrun.registration.notices import Notice, NoticeRef, notice_text

_EVENTS = Event.__table__.c
_NOTICES = PrivacyNotice.__table__.c


class RegisterableEvent(Protocol):
    """What registering needs of an event (an :class:`Event` or :class:`EventTerms`)."""

    id: int
    slug: str
    bib_prefix: str

    def accepts_registrations(self, now: datetime) -> bool: ...


@dataclass(frozen=True)
class EventTerms:
    """What registering reads of an event, without the ORM (the hot path of the API and
    of the form's submission)."""

    id: int
    slug: str
    bib_prefix: str
    date: date
    min_age: int
    max_age: int | None
    shirt_sizes: list[str]
    registration_open: bool
    registration_opens_at: datetime | None
    registration_closes_at: datetime | None
    #: Full when read (no general place or bib left): which write to try first, nothing
    #: more.
    full: bool = False
    #: A ballot not drawn yet when read: registering makes an entry (the write checks).
    balloting: bool = False
    #: Places left in each open pool when read (None: no such pool, or flowed): which
    #: writes to try, nothing more (the write checks the pool under the lock).
    non_member_left: int | None = None
    partner_left: int | None = None
    #: What the orderly queue needs of it (:class:`funrun.opening.lane.QueuedEvent`).
    name: str = ""
    admit_rate: int | None = None

    #: The same rule as the model's.
    accepts_registrations = Event.accepts_registrations

    def pool_left(self, pool: str, now: datetime) -> int | None:
        """Places left in the open pool when read (None: no such open pool)."""
        return self.non_member_left if pool == Pool.NON_MEMBER else self.partner_left


def _left_in(pool: Pool) -> Any:
    """An open pool's places not taken; NULL when the event has none or they flowed."""
    places_of, taken = places.POOL_COLUMNS[pool]
    return case((and_(places.pools_open(), places_of > 0), places_of - taken), else_=null())


#: The event by slug and the id of the notice with the current text, in one statement.
TERMS_STATEMENT: Select[Any] = select(
    _EVENTS.id,
    _EVENTS.slug,
    _EVENTS.bib_prefix,
    _EVENTS.date,
    _EVENTS.min_age,
    _EVENTS.max_age,
    _EVENTS.shirt_sizes,
    _EVENTS.registration_open,
    _EVENTS.registration_opens_at,
    _EVENTS.registration_closes_at,
    ~places.general_left(1),
    places.balloting(),
    _left_in(Pool.NON_MEMBER),
    _left_in(Pool.PARTNER),
    _EVENTS.name,
    _EVENTS.admit_rate,
    select(_NOTICES.id)
    .where(_NOTICES.locale == bindparam("locale"), _NOTICES.sha256 == bindparam("sha"))
    .scalar_subquery(),
).where(_EVENTS.slug == bindparam("slug"))


def read(statement: Select[Any], params: dict[str, Any]) -> list[Any]:
    """Run a read of registering's hot path: on PostgreSQL outside the session (the fast
    path's connections), elsewhere on the session."""
    if fastdb.available():
        return fastdb.run(statement, params)
    return list(db.session.execute(statement, params).all())


def event_terms(slug: str, locale: str) -> tuple[EventTerms | None, Notice | None]:
    """The event with ``slug`` and the privacy notice in force, in one query.

    The notice is None when its current text is not stored yet
    (:func:`~funrun.registration.notices.current_privacy_notice` stores it).
    """
    locale = locale if locale in ("id", "en") else "id"
    if len(slug) > 64:
        return None, None

    def load() -> tuple[EventTerms | None, Notice | None]:
        rows = read(
            TERMS_STATEMENT,
            {"slug": slug, "locale": locale, "sha": notice_text(locale)[2], "now": utcnow()},
        )
        if not rows:
            return None, None
        *fields, notice_id = rows[0]
        return EventTerms(*fields), NoticeRef(notice_id) if notice_id is not None else None

    seconds = current_app.config["FUNRUN_TERMS_CACHE_SECONDS"]
    return terms_cache.remembered((str(db.engine.url), slug, locale), seconds, load)
