"""One implementation of each rule, in SQLAlchemy constructs (issue 16, point 1).

No SQL text is assembled at run time in ``funrun/`` (the source is read, so a new
f-string or ``.format()`` of SQL fails here before it runs anywhere), and on PostgreSQL a
registration is one statement: the rule's Core statements composed into CTEs.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from funrun.extensions import db
from funrun.registration import terms_cache
from funrun.registration.models import Registration, RegistrationStatus
from funrun.registration.services import current_privacy_notice, event_terms, register
from funrun.registration.validation import clean_registration
from tests.conftest import person_payload

FUNRUN = Path(__file__).resolve().parents[2] / "funrun"
#: Calls whose first argument is SQL.
_RUNS_SQL = {"text", "exec_driver_sql", "fetch", "execute", "scalar", "scalars", "literal_column"}
_LOOKS_LIKE_SQL = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|WITH|BEGIN)\b")
#: Where SQL text is still assembled, by whom it is being converted; each entry must go.
#: A finding not listed here fails, and so does an entry that no longer finds anything.
KNOWN: dict[str, str] = {}


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def _assembled(node: ast.AST) -> bool:
    """Whether an expression builds a string at run time (f-string, %, +, format, replace)."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(part, ast.FormattedValue) for part in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
        return True
    return isinstance(node, ast.Call) and _name(node.func) in {"format", "replace", "join"}


def _is_sql(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and bool(_LOOKS_LIKE_SQL.search(node.value))
    ) or (isinstance(node, ast.Name) and node.id.endswith("_SQL"))


def sql_assembled_at_run_time(root: Path = FUNRUN) -> Iterator[tuple[str, str, int]]:
    """Every place in ``root`` where SQL text is built or sent raw: (file, call, line)."""
    for path in sorted(root.rglob("*.py")):
        where = str(path.relative_to(root.parent))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            called = _name(node.func)
            first = node.args[0] if node.args else None
            # text(f"..."), exec_driver_sql("..." % x), execute(SQL.format(...)) ...
            if called in _RUNS_SQL and first is not None and _assembled(first):
                yield where, called, node.lineno
            # "SELECT ... {x}".format(...), SOME_SQL.replace(...)
            elif called in {"format", "replace"} and isinstance(node.func, ast.Attribute):
                if _is_sql(node.func.value):
                    yield where, called, node.lineno
            # Raw psycopg text through fastdb.fetch (Core constructs go through fastdb.run).
            elif called == "fetch" and _name(getattr(node.func, "value", None) or node) == "fastdb":
                yield where, called, node.lineno


def test_the_scan_finds_assembled_sql(tmp_path: Path) -> None:
    """The checker itself: each way of assembling SQL text is found, Core is not."""
    package = tmp_path / "funrun"
    package.mkdir()
    (package / "bad.py").write_text(
        "from sqlalchemy import select, text\n"
        "from funrun import fastdb\n"
        "A = text(f'SELECT * FROM {table}')\n"
        "B = 'SELECT {x} FROM t'.format(x=1)\n"
        "C = REGISTER_SQL.replace('RETURNING id', '')\n"
        "D = db.session.execute('SELECT 1 WHERE a = ' + value)\n"
        "E = fastdb.fetch(C, {})\n"
        "F = select(t.c.id).where(t.c.name == name)\n"
        "G = '{} runners'.format(3)\n",
        encoding="utf-8",
    )
    found = [(call, line) for _path, call, line in sql_assembled_at_run_time(package)]
    assert found == [("text", 3), ("format", 4), ("replace", 5), ("execute", 6), ("fetch", 7)]


def test_no_sql_text_is_assembled_at_run_time_in_funrun() -> None:
    """Issue 16, point 1: every statement is a SQLAlchemy construct."""
    found: dict[str, list[int]] = {}
    for where, call, line in sql_assembled_at_run_time():
        found.setdefault(f"{where}:{call}", []).append(line)
    registration = {key: lines for key, lines in found.items() if "/registration/" in key}
    assert registration == {}, "the registration feature builds SQL text"
    unknown = {key: lines for key, lines in found.items() if key not in KNOWN}
    assert unknown == {}, "SQL text assembled at run time"
    gone = sorted(set(KNOWN) - set(found))
    assert gone == [], "converted: take these out of KNOWN"


def test_no_other_feature_imports_registration_private_names() -> None:
    """Other features use the registration feature's public names only."""
    private = []
    for path in sorted(FUNRUN.rglob("*.py")):
        if path.parent.name == "registration":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "funrun.registration"
            ):
                # registration.validation is being converted by its own engineer (point 2).
                if node.module == "funrun.registration.validation":
                    continue
                private += [
                    f"{path.name}: {alias.name}"
                    for alias in node.names
                    if alias.name.startswith("_")
                ]
    assert private == []


@pytest.fixture
def statements(app, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every statement sent to PostgreSQL from here on, counted at the driver (psycopg's
    cursor), so a statement sent through the session, a Connection or the fast path's
    compiled text all count alike."""
    sent: list[str] = []
    execute = psycopg.Cursor.execute

    def counted(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(str(query))
        return execute(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", counted)
    return sent


def test_a_registration_is_one_statement_on_postgresql(
    app, postgres_url, make_event, statements
) -> None:
    """The place, the person and the registration in one round trip, confirmed or
    waitlisted; nothing else is sent (no BEGIN, no session statement)."""
    event = make_event(quota=1)
    terms_cache.forget()
    current_privacy_notice("id")
    # As the API reads them: the terms and the notice's id, in one statement.
    terms, notice = event_terms(event.slug, "id")
    assert terms is not None and notice is not None
    one, two = (clean_registration(person_payload(n), event) for n in (11, 12))
    db.session.commit()
    statements.clear()
    first = register(terms, one, notice=notice)
    assert first.snapshot.status == RegistrationStatus.CONFIRMED
    assert len(statements) == 1, statements
    assert statements[0].lstrip().startswith("WITH found AS")
    statements.clear()
    # Told the event is full (its terms say so), the waitlist is tried first: one statement.
    full = dataclasses.replace(terms, full=True)
    second = register(full, two, notice=notice)
    assert second.snapshot.status == RegistrationStatus.WAITLISTED
    assert second.snapshot.waitlist_seq == 1
    assert len(statements) == 1, statements
    assert db.session.get_one(Registration, second.snapshot.id).waitlist_seq == 1
