"""Staff pages of messages: delivery (list, counts, retry), one message as sent (the
outbox reader), template previews with a made-up runner, and broadcasts."""

from __future__ import annotations

import re
import secrets
from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from funrun.accounts.access import ORGANISERS, roles_required
from funrun.events.models import Event
from funrun.events.services import get_event
from funrun.extensions import db
from funrun.messages import staff
from funrun.messages.forms import ActionForm, BroadcastForm
from funrun.messages.models import Broadcast, Message, MessageKind, MessageStatus
from funrun.messages.wording import kind_name

bp = Blueprint("messages", __name__)

#: One-time broadcast form tokens kept in the session: token -> broadcast id (0: unused).
TOKENS = "broadcast_forms"
LANGUAGES = ("id", "en")
#: An event slug, as the URL converter takes it.
SLUG = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


def _page(template: str, *, status: int = 200, **context: Any) -> Response:
    response = make_response(
        render_template(
            template,
            kind_name=kind_name,
            status_name=staff.status_name,
            channel_names=staff.CHANNEL_NAMES,
            **context,
        ),
        status,
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _event_or_404(slug: str) -> Event:
    event = get_event(slug)
    if event is None:
        abort(404)
    return event


def _number(name: str, limit: int) -> int | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9 or not 1 <= int(raw) <= limit:
        abort(400)
    return int(raw)


def _choice(name: str, allowed: set[str]) -> str | None:
    raw = request.args.get(name, "").strip()
    if raw and raw not in allowed:
        abort(400)
    return raw or None


@bp.route("/staff/messages")
@roles_required(*ORGANISERS)
def message_list() -> Response:
    """Every message: failed first, then newest; filter by event, status and kind."""
    wanted = staff.MessageFilter(
        event_id=_number("event", 2**31 - 1),
        status=_choice("status", {s.value for s in MessageStatus}),
        kind=_choice("kind", {k.value for k in MessageKind}),
    )
    page = _number("page", staff.MAX_PAGE) or 1
    rows, has_next = staff.list_messages(wanted, page)
    events = db.session.execute(select(Event.id, Event.slug, Event.city, Event.date)).all()
    chosen = next((e for e in events if e.id == wanted.event_id), None)
    return _page(
        "messages/staff_list.html",
        rows=rows,
        has_next=has_next,
        page=page,
        wanted=wanted,
        counts=staff.status_counts(wanted),
        events=sorted(events, key=lambda e: e.date),
        chosen=chosen,
        kinds=list(MessageKind),
        statuses=list(MessageStatus),
        args={k: v for k, v in request.args.items() if k != "page" and v},
        action=ActionForm(),
    )


def _safe_next(target: str | None) -> str | None:
    return target if target and target.startswith("/staff/") and "//" not in target else None


@bp.route("/staff/messages/<id:message_id>/retry", methods=["POST"])
@roles_required(*ORGANISERS)
def retry(message_id: int) -> Response:
    """Hand a failed message back to the worker for a new set of tries."""
    if not ActionForm().validate_on_submit():
        abort(400)
    if db.session.get(Message, message_id) is None:
        abort(404)
    if staff.retry(message_id, current_user.id):
        flash(_("The message is queued again."), "success")
    else:
        flash(_("Only a failed message can be retried."), "error")
    return redirect(_safe_next(request.form.get("next")) or url_for("messages.message_list"))


@bp.route("/staff/events/<slug:slug>/messages/retry", methods=["POST"])
@roles_required(*ORGANISERS)
def retry_event(slug: str) -> Response:
    """Hand every failed message of an event back to the worker."""
    event = _event_or_404(slug)
    if not ActionForm().validate_on_submit():
        abort(400)
    event_id = event.id
    count = staff.retry_failed(event, current_user.id)
    flash(_("%(n)d failed messages are queued again.", n=count), "success")
    return redirect(url_for("messages.message_list", event=event_id, status="failed"))


@bp.route("/staff/messages/<id:message_id>")
@roles_required(*ORGANISERS)
def message_page(message_id: int) -> Response:
    """One message as it was (or would be) sent: the outbox reader in development."""
    message = db.session.get(Message, message_id)
    if message is None:
        abort(404)
    event = db.session.get_one(Event, message.event_id)
    reveal = staff.may_reveal_link(message)
    return _page(
        "messages/staff_message.html",
        message=message,
        event=event,
        shown=staff.show_message(message, reveal_link=reveal),
        revealed=reveal,
        action=ActionForm(),
    )


@bp.route("/staff/messages/preview")
@roles_required(*ORGANISERS)
def preview() -> Response:
    """Each kind of message in each language, with a made-up runner."""
    kind = MessageKind(_choice("kind", {k.value for k in MessageKind}) or MessageKind.CONFIRMED)
    lang = _choice("lang", set(LANGUAGES)) or "id"
    slug = request.args.get("event", "").strip()
    if slug and not SLUG.fullmatch(slug):
        abort(404)
    event = _event_or_404(slug) if slug else None
    return _page(
        "messages/staff_preview.html",
        kind=kind,
        lang=lang,
        event=event,
        kinds=list(MessageKind),
        languages=LANGUAGES,
        shown=staff.preview(kind, lang, event),
    )


def _new_token() -> str:
    tokens = dict(session.get(TOKENS) or {})
    token = secrets.token_urlsafe(16)
    tokens[token] = 0
    session[TOKENS] = dict(list(tokens.items())[-5:])
    return token


def _broadcast_page(event: Event, form: BroadcastForm, status: int = 200) -> Response:
    return _page(
        "messages/staff_broadcast.html",
        status=status,
        event=event,
        form=form,
        recipients=staff.recipients(event),
        past=staff.broadcasts_of(event.id),
    )


@bp.route("/staff/events/<slug:slug>/broadcast", methods=["GET", "POST"])
@roles_required(*ORGANISERS)
def broadcast(slug: str) -> Response:
    """Write a message to the event's confirmed runners, preview it, then send it."""
    event = _event_or_404(slug)
    form = BroadcastForm()
    if request.method == "GET":
        return _broadcast_page(event, form)
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        return _broadcast_page(event, form, 422)
    action = request.form.get("action", "preview")
    if action == "send":
        return _send(event, form)
    if action == "edit":
        return _broadcast_page(event, form)
    text = form.text()
    shown = {
        lang: staff.show(
            staff.broadcast_facts(
                event,
                lang,
                (text["subject_en"] if lang == "en" else None) or str(text["subject_id"]),
                (text["body_en"] if lang == "en" else None) or str(text["body_id"]),
            ),
            staff.Channel.EMAIL,
            colour=event.bib_colour,
        )
        for lang in LANGUAGES
    }
    recipients = staff.recipients(event)
    return _page(
        "messages/staff_broadcast_preview.html",
        event=event,
        form=form,
        text=text,
        shown=shown,
        recipients=recipients,
        runners=max(recipients.values(), default=0),
        token=_new_token(),
    )


def _send(event: Event, form: BroadcastForm) -> Response:
    tokens = dict(session.get(TOKENS) or {})
    token = form.form_token.data or ""
    if token not in tokens:
        return _page(
            "messages/staff_broadcast.html",
            status=400,
            event=event,
            form=form,
            recipients=staff.recipients(event),
            past=staff.broadcasts_of(event.id),
            problem=_("This form was already used or has expired: preview the message again."),
        )
    if tokens[token]:  # sent already: the same broadcast, not a second one
        return redirect(url_for("messages.broadcast_page", broadcast_id=tokens[token]))
    done = staff.create_broadcast(event, form.text(), current_user.id)
    tokens[token] = done.id
    session[TOKENS] = tokens
    flash(_("Your message is queued for %(n)d runners.", n=done.queued), "success")
    return redirect(url_for("messages.broadcast_page", broadcast_id=done.id))


@bp.route("/staff/broadcasts/<id:broadcast_id>")
@roles_required(*ORGANISERS)
def broadcast_page(broadcast_id: int) -> Response:
    """A broadcast's progress while it sends (the page reloads itself until done)."""
    found = db.session.get(Broadcast, broadcast_id)
    if found is None:
        abort(404)
    event = db.session.get_one(Event, found.event_id)
    counts = staff.broadcast_counts(found.id)
    groups = {
        "waiting": counts["queued"] + counts["sending"],
        "done": counts["sent"] + counts["held"],
        "trouble": counts["failed"] + counts["bounced"] + counts["skipped"],
    }
    return _page(
        "messages/staff_broadcast_progress.html",
        broadcast=found,
        event=event,
        counts=counts,
        groups=groups,
        total=sum(groups.values()),
    )
