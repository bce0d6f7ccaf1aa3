"""fastdb.HotPlan: a hot statement's ``$n`` values, as SQLAlchemy would give them.

Every scan and registration on PostgreSQL runs through it (the rest of the suite); this
compares it with SQLAlchemy's own ``construct_params`` and bind processors for each hot
statement, with a value of each parameter's type, so that a typed parameter (a UTC
timestamp, an enum) or a repeated one cannot drift from what SQLAlchemy sends; and the
statement's own constants are written into its text (fastdb.hot_dialect), not sent.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.sql import Executable

from funrun import fastdb
from funrun.checkin.desk import _DESK as DESK
from funrun.checkin.engine import SCAN_AT_DESK, SCAN_BY_TOKEN, SCAN_WITH_PICKUP
from funrun.checkin.replay import REPLAY_PG
from funrun.registration.models import RegistrationStatus
from funrun.registration.register import one_statement
from funrun.registration.terms import TERMS_STATEMENT

HOT: dict[str, Executable] = {
    "scan by token": SCAN_BY_TOKEN,
    "scan at a desk": SCAN_AT_DESK,
    "pickup": SCAN_WITH_PICKUP,
    "replay": REPLAY_PG,
    "desk": DESK,
    "terms": TERMS_STATEMENT,
    "take a place": one_statement(RegistrationStatus.CONFIRMED),
    "join the waitlist": one_statement(RegistrationStatus.WAITLISTED),
}
SAMPLES: dict[type, Any] = {
    int: 7,
    str: "confirmed",
    bool: True,
    datetime: datetime(2026, 12, 6, 5, 30, tzinfo=UTC),
    date: date(2026, 12, 6),
    bytes: b"\x01\x02",
}


def _given(compiled: Any) -> dict[str, Any]:
    """A value of its type for every parameter the caller gives."""
    params = {}
    for bind in compiled.bind_names:
        if bind.required:
            type_ = getattr(bind.type, "impl", bind.type)  # a TypeDecorator's column type
            params[bind.key] = SAMPLES.get(type_.python_type, "x")
    return params


@pytest.mark.parametrize("name", HOT)
def test_the_plan_gives_what_sqlalchemy_gives(app: Flask, name: str) -> None:
    dialect = fastdb.hot_dialect(postgresql.psycopg.dialect())  # type: ignore[attr-defined]
    statement = HOT[name]
    compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
    params = _given(compiled)
    assert params, name
    expected = compiled.construct_params(params)
    for key, process in compiled._bind_processors.items():
        if expected.get(key) is not None:
            expected[key] = process(expected[key])
    plan = fastdb.HotPlan.compile(statement, dialect)
    assert plan.text == compiled.string
    assert plan.values(params) == [expected[key] for key in compiled.positiontup]
    # The statement's constants are in its text; every parameter left is the caller's.
    assert {key for key, _process, fixed in plan.positions} == set(params), name
    missing = next(iter(params))
    with pytest.raises(InvalidRequestError, match=missing):
        plan.values({k: v for k, v in params.items() if k != missing})
