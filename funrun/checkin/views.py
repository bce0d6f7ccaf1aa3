"""The volunteer's scan page (cookie session + CSRF).

Its script calls the public check-in API (scan, counter, roster) with the page's session
and CSRF token (funrun/checkin/apiauth.py); the form here serves browsers without
JavaScript, over the same service.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from flask import (
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import HiddenField, StringField

from funrun.accounts.access import DESK_STAFF, ORGANISERS, roles_required
from funrun.accounts.models import EventAssignment, Role
from funrun.checkin import bp
from funrun.checkin.desk import event_for_desk
from funrun.checkin.entry import SCAN, TYPED, looks_signed
from funrun.checkin.models import STATIONS, CheckIn, ScanResult
from funrun.checkin.roster import conflicts
from funrun.checkin.services import (
    ScanOutcome,
    UndoError,
    assigned_stations,
    recent,
    scan,
    station_counts,
    undo_checkin,
)
from funrun.events.models import Event
from funrun.events.services import get_event
from funrun.extensions import db
from funrun.registration.validation import ValidationFailed


class ScanForm(FlaskForm):
    """A typed bib or a wedge scanner's input, for browsers without JavaScript.

    A signed payload in the box came from a handheld scanner (method "scan"); anything
    else was typed, and checks in only once ``id_checked`` comes back as "1" from the
    confirm step, which the page shows with the runner's name and bib.
    """

    code = StringField()
    id_checked = HiddenField()
    #: A pickup's details from a desk card (templates/checkin/_pickup_extras.html).
    proxy_name = StringField()
    proxy_nik = StringField()
    shirt_given = StringField()


def _form_entry(form: ScanForm) -> tuple[str, bool]:
    """The method and id_checked of a no-JavaScript scan (see :class:`ScanForm`)."""
    code = (form.code.data or "").strip()
    return (SCAN if looks_signed(code) else TYPED), form.id_checked.data == "1"


def form_pickup(form: ScanForm) -> dict[str, object]:
    """A desk card's pickup details as the check-in takes them (none when left empty)."""
    name, nik = (form.proxy_name.data or "").strip(), (form.proxy_nik.data or "").strip()
    details: dict[str, object] = {}
    if name or nik:
        details["proxy"] = {"name": name, "nik": nik}
    if (form.shirt_given.data or "").strip():
        details["shirt_given"] = form.shirt_given.data
    return details


def station_of(event: Event) -> str:
    """The station in the address; else the one the volunteer was assigned; else pickup."""
    station = request.args.get("station")
    if station in STATIONS:
        return station
    return assigned_stations(current_user).get(event.id, "pickup")


@bp.route("/staff/scan")
@roles_required(*DESK_STAFF)
def choose_event() -> str:
    """The events this account may scan at."""
    query = select(Event).order_by(Event.date)
    if current_user.role == Role.VOLUNTEER:
        query = query.join(EventAssignment, EventAssignment.event_id == Event.id).where(
            EventAssignment.user_id == current_user.id
        )
    return render_template(
        "checkin/choose.html",
        events=db.session.scalars(query).all(),
        stations=assigned_stations(current_user),
    )


@bp.route("/staff/events/<slug:slug>/scan", methods=["GET", "POST"])
@roles_required(*DESK_STAFF)
def scan_page(slug: str) -> Response | str | tuple[str, int] | tuple[Response, int]:
    """Scan bibs with the camera, a handheld scanner or the keyboard."""
    event = event_for_desk(slug)
    station = station_of(event)
    # The page's script calls the check-in API (POST /api/v1/events/<slug>/checkins);
    # this is the form for browsers without JavaScript, over the same service.
    form = ScanForm()
    outcome: ScanOutcome | None = None
    confirm: ScanForm | None = None
    error = typed = None
    if request.method == "POST":
        if not form.validate():
            abort(400)
        code = form.code.data
        method, id_checked = _form_entry(form)
        typed = shorten_code(str(code or "").strip())
        try:
            outcome = scan(
                event,
                code,
                user=current_user,
                station=station,
                device=request.headers.get("User-Agent", "")[:64] or None,
                method=method,
                id_checked=id_checked,
                **form_pickup(form),
            )
        except ValidationFailed as failed:
            error = " ".join(m for messages in failed.errors.values() for m in messages)
        else:
            if outcome.result == ScanResult.CONFIRM_IDENTITY:
                # The confirm step sends the same code again, with the ID card checked.
                confirm = ScanForm(formdata=None, code=str(code).strip(), id_checked="1")
        form.code.data = form.id_checked.data = ""
        form.proxy_name.data = form.proxy_nik.data = form.shirt_given.data = ""
    status = outcome.http_status if outcome else (422 if error else 200)
    return render_scan(
        event,
        station,
        status,
        form=form,
        confirm=confirm,
        outcome=outcome.as_json() if outcome else None,
        error=error,
        typed=typed,
    )


def render_scan(event: Event, station: str, status: int, **context: object) -> tuple[str, int]:
    """The scan page: the result of a scan or a desk search (``context``), and the forms."""
    context.setdefault("form", ScanForm(formdata=None))
    return (
        render_template(
            "checkin/scan.html",
            event=event,
            station=station,
            stations=STATIONS,
            counts=station_counts(event.id, station),
            shell=shell_urls(),
            shell_version=shell_version(),
            **context,
        ),
        status,
    )


def shorten_code(code: str) -> str:
    """What was scanned or typed, as the page repeats it: a signed payload shortened (its
    signature identifies the bib; the page never needs it whole)."""
    return code[:12] + "…" if looks_signed(code) and len(code) > 12 else code[:40]


#: What the scan page needs to load with no network (the service worker keeps these).
SHELL_FILES = (
    "css/app.css",
    "js/scan-offline.js",
    "js/scan.js",
    "js/desk-search.js",
    "js/shirt-stock.js",
    "css/desk.css",
    "vendor/qr-scanner.umd.min.js",
    "vendor/qr-scanner-worker.min.js",
    "icons/scan-192.png",
    "icons/scan-512.png",
)


def shell_urls() -> list[str]:
    """The static URLs of the scan page's shell."""
    return [url_for("static", filename=name) for name in SHELL_FILES]


def shell_version() -> str:
    """A digest of the shell files: a new one installs a new worker, which fetches them anew.

    Read once per process (the files change with a deploy, which restarts the app).
    """
    cached = current_app.extensions.get("funrun_scan_shell_version")
    if cached is None:
        digest = hashlib.sha256()
        folder = Path(current_app.static_folder or "static")
        for name in (*SHELL_FILES, "js/scan-sw.js"):
            path = folder / name
            digest.update(name.encode())
            digest.update(path.read_bytes() if path.is_file() else b"missing")
        cached = digest.hexdigest()[:16]
        current_app.extensions["funrun_scan_shell_version"] = cached
    return cached


@bp.route("/staff/scan-sw.js")
def service_worker() -> Response:
    """The scan page's service worker, served from /staff/ so its scope covers the page."""
    response = send_from_directory(
        current_app.static_folder or "static", "js/scan-sw.js", max_age=0
    )
    response.mimetype = "text/javascript"
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.route("/staff/events/<slug:slug>/scan/manifest.webmanifest")
def manifest(slug: str) -> Response:
    """The web app manifest that makes the scan page installable (public: no personal data)."""
    event = get_event(slug)
    if event is None:
        abort(404)
    name = _("Scan %(city)s", city=event.city)
    response = jsonify(
        {
            "name": f"{_('Fun Run 5K')} · {name}",
            "short_name": name,
            "start_url": url_for("checkin.scan_page", slug=event.slug),
            "scope": url_for("checkin.choose_event").rsplit("/", 1)[0] + "/",
            "display": "standalone",
            "background_color": "#ffffff",
            "theme_color": "#067647",
            "icons": [
                {
                    "src": url_for("static", filename=f"icons/scan-{size}.png"),
                    "sizes": f"{size}x{size}",
                    "type": "image/png",
                }
                for size in (192, 512)
            ],
        }
    )
    response.mimetype = "application/manifest+json"
    return response


class UndoForm(FlaskForm):
    """Confirms an undo (the CSRF token is the point)."""


@bp.route("/staff/events/<slug:slug>/checkins")
@roles_required(*ORGANISERS)
def recent_checkins(slug: str) -> str:
    """The supervisor's view: the latest check-ins of the event, each with an undo button."""
    event = get_event(slug)
    if event is None:
        abort(404)
    return render_template(
        "checkin/recent.html",
        event=event,
        checkins=recent(event.id),
        conflicts=conflicts(event.id, event.bib_prefix),
        form=UndoForm(),
    )


@bp.route("/staff/checkins/<id:checkin_id>/undo", methods=["POST"])
@roles_required(*ORGANISERS)
def undo_page(checkin_id: int) -> Response:
    """Take back a mistaken check-in (logged), then show the list again."""
    checkin = db.get_or_404(CheckIn, checkin_id)
    slug = checkin.registration.event.slug
    if not UndoForm().validate_on_submit():
        abort(400)
    try:
        undo_checkin(checkin_id, user=current_user, device=request.headers.get("User-Agent"))
    except UndoError as refused:
        flash(str(refused), "error")
    else:
        flash(_("Check-in undone."), "success")
    return redirect(url_for("checkin.recent_checkins", slug=slug))


# The desk's search and the walk-up flow: routes of this blueprint, in their own modules.
from funrun.checkin import pickup_views as _pickup_views  # noqa: E402,F401
from funrun.checkin import search_views as _search_views  # noqa: E402,F401
from funrun.checkin import walkup_views as _walkup_views  # noqa: E402,F401
