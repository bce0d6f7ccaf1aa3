"""Place pools (issue 21): an event's quota split into places kept for some runners.

An event may keep ``pool_non_member`` places for runners not yet members of the scheme
(no KPJ number, not declared a member, and no enrolment on record for the person) and
``pool_partner`` places for runners a partner brought (its API or a group import). The
places a pool has not taken are no one else's until ``pools_flow_at`` (None: race day);
then they flow to everyone, once the worker has promoted the waitlist into them
(:func:`flow_due`: until then nobody takes them, so the waitlist comes first). Taking a
place is the place rule's (:mod:`funrun.registration.places`: one conditional UPDATE of
the event row); this module says who belongs to which pool (:func:`pool_for`,
:func:`eligible`), what a pool stands at (:func:`pool_states`, for pages, the dashboard
and the exports), and promotes the waitlist into the places that flowed
(:func:`flow_due`, run by the worker).

A runner in both pools (a non-member a partner brought) belongs to the partner's pool:
the non-member pool stays for those who come alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, true, update

from funrun.dbtx import begin_write
from funrun.dbtypes import utcnow
from funrun.events.models import Event
from funrun.extensions import db
from funrun.registration import places
from funrun.registration.models import Pool, Registration

#: Events flowed by one call at most (the rest wait for the next round).
BATCH = 100


def pool_for(
    is_member: bool, kpj_number: str | None, has_enrolment: bool, partner_id: int | None
) -> Pool | None:
    """The pool a runner may take a place from (None: general places only).

    A partner's runner belongs to the partner pool; else a runner not a member (not
    declared one, no KPJ number, no enrolment on record) to the non-member pool."""
    if partner_id is not None:
        return Pool.PARTNER
    if not is_member and not kpj_number and not has_enrolment:
        return Pool.NON_MEMBER
    return None


def eligible(pool: Pool, registration: Any = None) -> ColumnElement[bool]:
    """A registration (a row of ``registrations``, by default the table) belongs to
    ``pool`` by :func:`pool_for`'s rule, as SQL (the waitlist's promotion, the draw)."""
    r = (registration if registration is not None else places.REGISTRATIONS).c
    if pool == Pool.PARTNER:
        return r.partner_id.is_not(None)
    return and_(
        r.partner_id.is_(None),
        ~r.is_member,
        or_(r.kpj_number.is_(None), r.kpj_number == ""),
        places.no_enrolment(r.person_id),
    )


@dataclass(frozen=True)
class PoolState:
    """Where a pool of an event stands: for pages, the dashboard and the exports."""

    pool: Pool
    places: int
    taken: int
    #: Places not taken, while the pool keeps them (0 once they flowed).
    left: int
    flow_at: datetime | None
    #: The unfilled places went to everyone (the flow time has come).
    flowed: bool

    def as_json(self) -> dict[str, Any]:
        """The pool as ``GET /api/v1/stats`` shows it."""
        flow_at = None if self.flow_at is None else self.flow_at.isoformat()
        return {
            "pool": self.pool.value,
            "places": self.places,
            "taken": self.taken,
            "left": self.left,
            "flow_at": flow_at,
            "flowed": self.flowed,
        }


def pool_states(event: Event, now: datetime | None = None) -> list[PoolState]:
    """The event's pools with places, in a fixed order (non-member, partner)."""
    now = now or utcnow()
    states = []
    for pool in Pool:
        count, taken = event.pool_places(pool.value)
        if count <= 0:
            continue
        left = event.pool_left(pool.value, now)
        states.append(
            PoolState(
                pool,
                count,
                taken,
                left or 0,
                event.pools_flow_at,
                flowed=not event.pools_open(now),
            )
        )
    return states


def summed(rows: list[list[PoolState]]) -> list[PoolState]:
    """The pools of many events summed, pool by pool (the tour's totals: no flow time)."""
    states = []
    for pool in Pool:
        same = [state for row in rows for state in row if state.pool == pool]
        if same:
            places, taken, left = (sum(getattr(s, n) for s in same) for n in _SUMMED)
            states.append(PoolState(pool, places, taken, left, None, all(s.flowed for s in same)))
    return states


_SUMMED = ("places", "taken", "left")


def _due(now: datetime) -> ColumnElement[bool]:
    """The event's pools have flowed at ``now`` and the worker has not promoted into
    them since (a flow time moved later flows again)."""
    return and_(
        Event.pools_flow_at.is_not(None),
        Event.pools_flow_at <= now,
        or_(Event.pools_flowed_at.is_(None), Event.pools_flowed_at < Event.pools_flow_at),
    )


def flow_due(now: datetime | None = None) -> int:
    """Promote the waitlist into the places that flowed, for every event whose pools
    flowed and were not yet promoted into; each event in its own transaction under its
    row lock, rechecked there (two workers promote once). How many events flowed."""
    now = now or utcnow()
    ids = list(
        db.session.scalars(select(Event.id).where(_due(now)).order_by(Event.id).limit(BATCH))
    )
    db.session.rollback()  # end the read: each flow is a write transaction of its own
    return sum(flow_one(event_id, now) for event_id in ids)


def flow_one(event_id: int, now: datetime | None = None) -> bool:
    """Promote the event's waitlist into the places its pools let go (the general places
    free now that nothing is kept), then mark the flow done; committed. False when it
    was not due (done already, or the flow time moved)."""
    from funrun.registration.cancelling import lock_event, promote_waitlist

    now = now or utcnow()
    begin_write()
    try:
        lock_event(event_id)
        if not db.session.scalar(select(true()).where(Event.id == event_id, _due(now))):
            db.session.rollback()
            return False
        promote_waitlist(event_id, now)
        db.session.execute(
            update(Event)
            .where(Event.id == event_id)
            .values(pools_flowed_at=now, updated_at=Event.updated_at)
            .execution_options(synchronize_session=False)
        )
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    return True


def taken_counts(event_id: int) -> dict[Pool, int]:
    """Active places (confirmed or held) each pool gave in the event, counted from the
    registrations: what the event row's ``pool_*_taken`` counters must agree with."""
    rows = db.session.execute(
        select(Registration.pool, db.func.count())
        .where(
            Registration.event_id == event_id,
            Registration.pool.is_not(None),
            Registration.status.in_(("confirmed", "held")),
        )
        .group_by(Registration.pool)
    )
    counts = {pool: 0 for pool in Pool}
    counts.update({Pool(pool): n for pool, n in rows})
    return counts
