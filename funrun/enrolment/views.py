"""The enrolment desk (scan -> enrol, or a walk-up), the card, export batches (schedules:
schedule_views)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from funrun.accounts.access import DESK_STAFF, ORGANISERS, can_scan, roles_required
from funrun.bibs.views import pdf_response
from funrun.checkin.desk import event_for_desk
from funrun.checkin.walkup_views import check_in_walkup, pickup_checkin
from funrun.downloads import export_response
from funrun.enrolment import bp
from funrun.enrolment.choices import OCCUPATIONS, PAYMENT_CHANNELS, PROGRAMMES
from funrun.enrolment.errors import EnrolmentError
from funrun.enrolment.export import (
    batches,
    create_batch,
    log_batch_download,
    pending_count,
    read_batch_file,
)
from funrun.enrolment.forms import EnrolmentForm, ExportForm, WalkupForm
from funrun.enrolment.lookups import enrolment_of_person, find_enrolment, registration_of_event
from funrun.enrolment.models import Enrolment
from funrun.enrolment.notice import enrolment_notice
from funrun.enrolment.schedule import active_sponsors
from funrun.enrolment.services import (
    Prepared,
    enrol_registered,
    enrol_walkup,
    enrolment_card,
    prepare,
    schedule_today,
)
from funrun.events.models import Event
from funrun.people.crypto import data_cipher, mask_nik
from funrun.registration.models import Registration, RegistrationSource
from funrun.registration.services import RegistrationError, current_privacy_notice
from funrun.registration.validation import ValidationFailed
from funrun.sponsors.eligibility import desk_offers, preselect


def _registration_arg(event: Event) -> Registration | None:
    raw = request.values.get("registration", "")
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 10:
        abort(404)
    registration = registration_of_event(event, int(raw))
    if registration is None:
        abort(404)
    return registration


def _attach_errors(form: EnrolmentForm, errors: dict[str, list[str]]) -> None:
    for name, messages in errors.items():
        target = "jht" if name == "programs" else name
        if target in form:
            form[target].errors = list(messages)
        else:
            flash(" ".join(messages), "error")


@bp.route("/staff/events/<slug:slug>/enrol", methods=["GET", "POST"])
@roles_required(*DESK_STAFF)
def desk(slug: str) -> Response | str | tuple[str, int]:
    """Enrol a scanned runner (?registration=ID) or a walk-up, with a confirm step."""
    event = event_for_desk(slug)
    registration = _registration_arg(event)
    locale = str(get_locale())
    sponsors = active_sponsors()
    form: EnrolmentForm = (
        EnrolmentForm().with_sponsors(sponsors)
        if registration
        else WalkupForm().for_event(event).with_sponsors(sponsors)
    )
    runner = _runner_view(registration)
    if runner and runner["blocked"]:
        return render_template("enrolment/desk.html", event=event, runner=runner, form=None), 409
    offers = desk_offers(registration)  # the sponsors that list this runner, with budget left
    if request.method == "GET":
        form.months.data = form.months.data or "1"
        preselect(form, offers)
    context = {
        "sponsor_offers": offers,
        "event": event,
        "runner": runner,
        "form": form,
        "notice": enrolment_notice(locale),
        "registration_notice": None if registration else current_privacy_notice(locale),
        "schedule": schedule_today(event),
    }
    status = 200
    if request.method == "POST":
        if not form.validate():
            abort(400)
        action = request.form.get("action", "review")
        if action == "edit":
            return render_template("enrolment/desk.html", **context)
        try:
            prepared = prepare(
                event,
                form.raw(),
                walkup=registration is None,
                typed=True,
                registration=registration,
            )
            context["sponsor_offers"] = offers or desk_offers(None, prepared.person)
            preselect(form, context["sponsor_offers"])  # the payer prepare chose, carried on
        except ValidationFailed as failed:
            _attach_errors(form, failed.errors)
            flash(_("Some fields need correcting. See the messages below."), "error")
            return render_template("enrolment/desk.html", **context), 422
        except EnrolmentError as refused:
            flash(str(refused), "error")
            return render_template("enrolment/desk.html", **context), 409
        quoted = request.form.get("quoted")
        if action == "confirm" and quoted == prepared.quote.fingerprint:
            try:
                if registration is not None:
                    result = enrol_registered(
                        event, registration, prepared, user=current_user, locale=locale
                    )
                else:
                    result = enrol_walkup(
                        event, prepared, user=current_user, locale=locale, walkup_place=True
                    )
                    if result.bib is not None:  # the walk-up leaves checked in, with a bib
                        check_in_walkup(
                            event,
                            result.bib,
                            user=current_user,
                            device=request.headers.get("User-Agent", "")[:64] or None,
                        )
            except (EnrolmentError, RegistrationError) as refused:
                flash(str(refused), "error")
                status = 409
            else:
                return redirect(url_for("enrolment.done", number=result.participant_number))
        elif action == "confirm":
            # Not confirmed: the review page again, with the new figures (a conflict).
            flash(_("The contribution changed since it was shown. Check it again."), "error")
            status = 409
        return (
            render_template(
                "enrolment/review.html", **context, prepared=prepared, **_labels(prepared)
            ),
            status,
        )
    return render_template("enrolment/desk.html", **context), status


def _runner_view(registration: Registration | None) -> dict | None:
    """What the desk shows of a scanned runner, and whether they may be enrolled."""
    if registration is None:
        return None
    nik = data_cipher().decrypt(registration.person.nik_encrypted)
    existing = enrolment_of_person(registration.person_id)
    reason = None
    if existing is not None:
        reason = _(
            "This NIK is already enrolled (participant number %(number)s).",
            number=existing.participant_number,
        )
    elif registration.is_member:
        reason = _("This runner is already a member of the scheme.")
    elif registration.status == "cancelled":
        reason = _("This registration was cancelled.")
    return {
        "id": registration.id,
        "full_name": registration.full_name,
        "bib": registration.bib,
        "nik_masked": mask_nik(nik),
        "birth_date": registration.person.birth_date,
        "status": registration.status,
        "blocked": reason,
        "enrolment": existing,
    }


def _labels(prepared: Prepared) -> dict:
    data = prepared.data
    return {
        "occupation_label": data.occupation_other or OCCUPATIONS[data.occupation],
        "channel_label": PAYMENT_CHANNELS[data.payment_channel] if data.payment_channel else None,
        "programme_labels": [PROGRAMMES[p] for p in prepared.quote.programmes],
    }


def enrolment_for_staff(number: str) -> Enrolment:
    """The enrolment with this participant number, for staff of its event (else 404/403)."""
    enrolment = find_enrolment(number)
    if enrolment is None:
        abort(404)
    if not can_scan(current_user, enrolment.event_id):
        abort(403)
    return enrolment


@bp.route("/staff/enrolments/<number>")
@roles_required(*DESK_STAFF)
def done(number: str) -> str:
    """The new member's participant number, what was charged, and the card to download."""
    enrolment = enrolment_for_staff(number)
    registration = enrolment.registration
    walkup = None
    if registration is not None and registration.source == RegistrationSource.WALKUP:
        walkup = {"registration": registration, "checkin": pickup_checkin(registration.id)}
    return render_template(
        "enrolment/done.html",
        enrolment=enrolment,
        walkup=walkup,
        programme_labels=[PROGRAMMES[p] for p in enrolment.programme_list],
        channel_label=(
            PAYMENT_CHANNELS[enrolment.payment_channel] if enrolment.payment_channel else None
        ),
    )


@bp.route("/staff/enrolments/<number>/card.pdf")
@roles_required(*DESK_STAFF)
def card(number: str) -> Response:
    """The membership card PDF."""
    enrolment = enrolment_for_staff(number)
    return pdf_response(enrolment_card(enrolment), f"kartu-peserta-{number}.pdf")


# --- export batches (organisers and admins) --------------------------------------------------


@bp.route("/staff/enrolment/exports", methods=["GET", "POST"])
@roles_required(*ORGANISERS)
def exports() -> Response | str:
    """Batches of new members for the scheme's core system: make one, download any."""
    form = ExportForm()
    if form.validate_on_submit():
        batch = create_batch(user_id=current_user.id)
        if batch is None:
            flash(_("No new enrolments to export."), "error")
        else:
            flash(
                _(
                    "Batch %(number)d made with %(count)d enrolments.",
                    number=batch.number,
                    count=batch.count,
                ),
                "success",
            )
        return redirect(url_for("enrolment.exports"))
    return render_template(
        "enrolment/exports.html", form=form, batches=batches(), pending=pending_count()
    )


@bp.route("/staff/enrolment/exports/<int:number>.<fmt>")
@roles_required(*ORGANISERS)
def export_file(number: int, fmt: str) -> Response:
    """A batch file exactly as first made; the download is logged (it carries NIKs) once
    its body was served."""
    if fmt not in ("csv", "json") or number > 2**31:
        abort(404)
    found = read_batch_file(number, fmt)
    if found is None:
        abort(404)
    user_id = int(current_user.id)
    return export_response(
        [found.data],
        "text/csv" if fmt == "csv" else "application/json",
        found.filename,
        user_id=user_id,
        log=lambda engine: log_batch_download(engine, found, user_id=user_id),
    )
