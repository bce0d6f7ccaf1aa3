"""The data model enforces what the code assumes (issue 16, point 7).

Reviewed by hand:

* ``checkins.station`` and ``scan_log.station`` are one of the known stations;
* a check-in's event is its registration's event: the foreign key on
  ``checkins.registration_id`` becomes ``(registration_id, event_id)`` ->
  ``registrations(id, event_id)``, which needs a unique constraint on the latter pair;
* a waitlisted registration has a waitlist position;
* indexes on the foreign keys that queries look rows up by: ``scan_log.registration_id``
  (a runner's history, the roster's conflicts), ``scan_log.user_id``, ``audit_log.user_id``
  and ``audit_log.event_id`` (the audit page's filters).

Existing rows: a waitlisted registration without a position gets the next free ones of its
event, in the order the registrations were made. A check-in filed under another event
than its registration's, or a station nobody knows, cannot be put right by guessing: the
upgrade stops and says which rows to look at.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 21:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

#: funrun.checkin.models.STATIONS when this was written (migrations never import the app).
STATIONS = ("pickup", "start", "finish")
STATION_CHECK = "station IN (" + ", ".join(f"'{name}'" for name in STATIONS) + ")"


def _refuse_if_any(sql: str, what: str) -> None:
    """Stop the upgrade, naming the rows, when ``sql`` finds any (ids in its first column)."""
    ids = [row[0] for row in op.get_bind().execute(sa.text(sql)).all()]
    if ids:
        shown = ", ".join(str(i) for i in ids[:20]) + (" ..." if len(ids) > 20 else "")
        raise RuntimeError(
            f"migration 0013 refuses to run: {len(ids)} {what} (ids {shown}); "
            "correct or remove them, then upgrade again"
        )


def _check_existing_rows() -> None:
    """Refuse rows the new constraints would reject and nobody can correct by rule."""
    stations = ", ".join(f"'{name}'" for name in STATIONS)
    _refuse_if_any(
        f"SELECT id FROM checkins WHERE station NOT IN ({stations}) ORDER BY id",
        f"check-in(s) at a station other than {', '.join(STATIONS)}",
    )
    _refuse_if_any(
        f"SELECT id FROM scan_log WHERE station NOT IN ({stations}) ORDER BY id",
        f"scan log row(s) at a station other than {', '.join(STATIONS)}",
    )
    _refuse_if_any(
        "SELECT c.id FROM checkins c JOIN registrations r ON r.id = c.registration_id"
        " WHERE r.event_id <> c.event_id ORDER BY c.id",
        "check-in(s) filed under another event than their registration's",
    )


def _number_unplaced_waitlist() -> None:
    """Give each waitlisted registration without a position the next ones of its event."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT id, event_id FROM registrations"
            " WHERE status = 'waitlisted' AND waitlist_seq IS NULL"
            " ORDER BY event_id, created_at, id"
        )
    ).all()
    last: dict[int, int] = {}
    for registration_id, event_id in rows:
        if event_id not in last:
            last[event_id] = bind.scalar(
                sa.text(
                    "SELECT COALESCE(MAX(waitlist_seq), 0) FROM registrations"
                    " WHERE event_id = :event_id"
                ),
                {"event_id": event_id},
            )
        last[event_id] += 1
        bind.execute(
            sa.text("UPDATE registrations SET waitlist_seq = :seq WHERE id = :id"),
            {"seq": last[event_id], "id": registration_id},
        )


def upgrade():
    _check_existing_rows()
    _number_unplaced_waitlist()
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            batch_op.f("uq_registrations_id_event_id"), ["id", "event_id"]
        )
        batch_op.create_check_constraint(
            "waitlisted_seq", "status <> 'waitlisted' OR waitlist_seq IS NOT NULL"
        )
    with op.batch_alter_table("checkins", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_checkins_registration_id_registrations"), type_="foreignkey"
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_checkins_registration_id_registrations"),
            "registrations",
            ["registration_id", "event_id"],
            ["id", "event_id"],
        )
        batch_op.create_check_constraint("station_known", STATION_CHECK)
    with op.batch_alter_table("scan_log", schema=None) as batch_op:
        batch_op.create_check_constraint("station_known", STATION_CHECK)
        batch_op.create_index(
            batch_op.f("ix_scan_log_registration_id"), ["registration_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_scan_log_user_id"), ["user_id"], unique=False)
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_event_id"), ["event_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_user_id"), ["user_id"], unique=False)


def downgrade():
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_user_id"))
        batch_op.drop_index(batch_op.f("ix_audit_log_event_id"))
    with op.batch_alter_table("scan_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scan_log_user_id"))
        batch_op.drop_index(batch_op.f("ix_scan_log_registration_id"))
        batch_op.drop_constraint(batch_op.f("ck_scan_log_station_known"), type_="check")
    with op.batch_alter_table("checkins", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_checkins_station_known"), type_="check")
        batch_op.drop_constraint(
            batch_op.f("fk_checkins_registration_id_registrations"), type_="foreignkey"
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_checkins_registration_id_registrations"),
            "registrations",
            ["registration_id"],
            ["id"],
        )
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_registrations_waitlisted_seq"), type_="check")
        batch_op.drop_constraint(batch_op.f("uq_registrations_id_event_id"), type_="unique")
