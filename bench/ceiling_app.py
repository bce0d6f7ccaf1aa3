"""The ceilings for bench/registration.py, served by the same gunicorn settings as funrun.

``/hello`` is a bare Flask JSON endpoint: the most any Flask view can do per second here.
``/select1`` adds one ``SELECT 1`` on PostgreSQL through a SQLAlchemy pool set up the way
funrun sets up its own (``pool_pre_ping``), when BENCH_DATABASE_URL is set: the cost of
merely touching the database once, to put the registration figure in proportion.
"""

from __future__ import annotations

import os

from flask import Flask, jsonify
from sqlalchemy import Engine, create_engine, text

app = Flask(__name__)
_engine: Engine | None = None


def _database() -> Engine:
    # Created on first use, so inside each gunicorn worker (after the fork).
    global _engine
    if _engine is None:
        _engine = create_engine(os.environ["BENCH_DATABASE_URL"], pool_pre_ping=True)
    return _engine


@app.get("/hello")
def hello():
    return jsonify({"hello": "world"})


@app.get("/select1")
def select1():
    with _database().connect() as conn:
        value = conn.execute(text("SELECT 1")).scalar_one()
    return jsonify({"select": value})
