"""A group's rows checked exactly as a registration is, a chunk ahead of the writes.

Each row runs the registration's request model without consent
(:class:`~funrun.registration.schemas.MemberRequest`, the event in context) and, when it
passes, gets what storing it takes: the NIK encrypted and its keyed hash, a manage token
(its hash, and the token encrypted as registering stores it). A NIK already on an
earlier row of the same chunk is refused here; on an earlier chunk, by the write.

Checking is Python work, writing mostly waiting for PostgreSQL: :func:`checked_chunks`
checks the next chunk in a thread of its own while the worker writes the one before
(one chunk ahead at most, so memory stays at two chunks).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from funrun.contracts import ValidationFailed
from funrun.events.models import Event
from funrun.groups.bulk import Member
from funrun.people.crypto import data_cipher
from funrun.registration.schemas import validate_member
from funrun.registration.tokens import TOKEN_CONTEXT, new_manage_token
from funrun.registration.validation import RegistrationData

_END = object()


@dataclass
class CheckedChunk:
    """A chunk's rows checked: those to store, and those refused with their messages."""

    rows: int = 0
    members: list[Member] = field(default_factory=list)
    refusals: list[dict[str, Any]] = field(default_factory=list)


def check_chunk(event: Event, chunk: list[tuple[int, Any]]) -> CheckedChunk:
    """Check ``(row number, member)`` pairs (in the import's language, forced by the caller)."""
    result = CheckedChunk(rows=len(chunk))
    first_row: dict[str, int] = {}
    cipher = data_cipher()
    for row, raw in chunk:
        member, errors = _checked(event, raw, cipher)
        if member is not None and member.nik_hash in first_row:
            message = _(
                "This NIK is also on row %(row)d of this import.", row=first_row[member.nik_hash]
            )
            member, errors = None, {"nik": [message]}
        if member is None:
            result.refusals.append({"row": row, "errors": errors})
            continue
        member.row = row
        first_row[member.nik_hash] = row
        result.members.append(member)
    return result


def _batched(rows: Iterable[tuple[int, Any]], size: int) -> Iterator[list[tuple[int, Any]]]:
    chunk: list[tuple[int, Any]] = []
    for item in rows:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def checked_chunks(
    event: Event, locale: str, rows: Iterable[tuple[int, Any]], size: int
) -> Iterator[CheckedChunk]:
    """``rows`` read and checked ``size`` at a time by a thread of its own, one chunk
    ahead of the caller. An error there is raised here; closing this stops the thread."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    ready: queue.Queue[Any] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def hand_over(item: Any) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def check() -> None:
        try:
            with app.app_context(), force_locale(locale):
                for chunk in _batched(rows, size):
                    if not hand_over(check_chunk(event, chunk)):
                        return
            hand_over(_END)
        except BaseException as exc:
            hand_over(exc)

    thread = threading.Thread(target=check, name="group-import-check", daemon=True)
    thread.start()
    try:
        while (item := ready.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=10)


def _checked(event: Event, raw: Any, cipher: Any) -> tuple[Member | None, dict[str, list[str]]]:
    """A row checked as a registration is (without consent), ready to store."""
    if not isinstance(raw, dict):
        return None, {"body": [_("Each member must be a JSON object.")]}
    try:
        data = RegistrationData.of(validate_member(raw, event))
    except ValidationFailed as failed:
        return None, failed.errors
    token, token_hash = new_manage_token()
    person = data.person_row(cipher)
    registration = {
        "manage_token_hash": token_hash,
        "manage_token_encrypted": cipher.encrypt(token, context=TOKEN_CONTEXT),
        **data.registration_row(),
    }
    return Member(0, cipher.lookup_hash(data.nik), person, registration), {}
