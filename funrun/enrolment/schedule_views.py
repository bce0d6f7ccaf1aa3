"""Contribution schedules for admins: the list, a form per schedule with a priced preview,
and the whole document as JSON (export, and import for bulk edits and sponsors)."""

from __future__ import annotations

import json
from datetime import date

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from funrun.accounts.access import roles_required
from funrun.accounts.models import Role
from funrun.contracts import ValidationFailed, validate
from funrun.enrolment import bp
from funrun.enrolment.contribution import IncomeOutOfRange, Quote
from funrun.enrolment.errors import NoSchedule
from funrun.enrolment.models import ContributionSchedule
from funrun.enrolment.schedule import dump_document
from funrun.enrolment.schedule_document import ScheduleDataError
from funrun.enrolment.schedule_editing import (
    PreviewExample,
    check_schedule,
    import_document,
    preview,
    save_schedule,
    stored_schedule,
)
from funrun.enrolment.schedule_forms import (
    MORE,
    SPARE,
    ScheduleEditForm,
    ScheduleImportForm,
    form_data,
)
from funrun.extensions import db


@bp.route("/staff/enrolment/schedules", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def schedules() -> Response | str | tuple[str, int]:
    """The schedules (provisional brackets marked), and the JSON import of every schedule
    and sponsor at once."""
    form = ScheduleImportForm()
    problems: list[str] = []
    if form.validate_on_submit():
        try:
            document = json.loads(form.document.data or "")
        except (ValueError, RecursionError):
            problems = [_("Not valid JSON.")]
        else:
            try:
                written = import_document(document, user_id=current_user.id)
            except ScheduleDataError as exc:
                problems = exc.problems
            else:
                flash(
                    _("Schedules saved.") if written else _("Nothing changed."),
                    "success",
                )
                return redirect(url_for("enrolment.schedules"))
    elif request.method == "GET":
        form.document.data = json.dumps(dump_document(), ensure_ascii=False, indent=2)
    listed = db.session.scalars(
        select(ContributionSchedule).order_by(ContributionSchedule.effective_from)
    ).all()
    status = 422 if problems else (400 if request.method == "POST" else 200)
    return (
        render_template("enrolment/schedules.html", form=form, problems=problems, schedules=listed),
        status,
    )


@bp.route("/staff/enrolment/schedules.json")
@roles_required(Role.ADMIN)
def schedules_export() -> Response:
    """Every schedule and sponsor as the JSON document the import takes."""
    body = json.dumps(dump_document(), ensure_ascii=False, indent=2) + "\n"
    response = Response(body, mimetype="application/json")
    filename = f"schedules-{date.today():%Y%m%d}.json"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.route("/staff/enrolment/schedules/new", methods=["GET", "POST"], defaults={"code": None})
@bp.route("/staff/enrolment/schedules/<code>/edit", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def schedule_edit(code: str | None) -> Response | str | tuple[str, int]:
    """One schedule as a form: save it, price an example with it unsaved, add rows."""
    stored = stored_schedule(code) if code is not None else None
    if code is not None and stored is None:
        abort(404)
    if request.method == "GET":
        copied = stored_schedule(request.args.get("copy", "")[:32]) if code is None else None
        start = {**(stored or copied or {})}
        if copied:
            start.update(code="", name="", effective_from="", effective_to=None)
        form = ScheduleEditForm(data=form_data(start))
        form.example_start.data = f"{date.today():%Y-%m}"
        form.add_rows(SPARE)
        return _page(form, code)
    form = ScheduleEditForm()
    action = request.form.get("action", "save")
    if action == "add_rows":
        form.add_rows(MORE)
        return _page(form, code)
    form.offer_sectors()
    document, places = form.document(code)
    try:
        if action == "preview":
            return _preview(form, code, check_schedule(document))
        changed = save_schedule(document, new=code is None, user_id=current_user.id)
    except ScheduleDataError as refused:
        summary = form.show_problems(refused.issues, places)
        flash(_("Some fields need correcting. See the messages below."), "error")
        return _page(form, code, problems=summary), 422
    saved_code = document["schedules"][0]["code"]
    flash(_("Schedule %(code)s saved.", code=saved_code) if changed else _("Nothing changed."),
          "success")  # fmt: skip
    return redirect(url_for("enrolment.schedule_edit", code=saved_code))


def _preview(form: ScheduleEditForm, code: str | None, row: dict) -> str | tuple[str, int]:
    raw = {name: form[name].data for name in PreviewExample.model_fields}
    try:
        example = validate(PreviewExample, raw)
        quote: Quote = preview(row, example)
    except ValidationFailed as failed:
        for name, messages in failed.errors.items():
            form[name].errors = list(messages)
        return _page(form, code), 422
    except IncomeOutOfRange:
        form.example_income.errors = [_("This income is outside the schedule's range.")]
        return _page(form, code), 422
    except NoSchedule as missing:
        form.example_start.errors = [str(missing)]
        return _page(form, code), 422
    return _page(form, code, quote=quote)


def _page(
    form: ScheduleEditForm, code: str | None, *, problems: list[tuple[str, str]] | None = None,
    quote: Quote | None = None,
) -> str:  # fmt: skip
    return render_template(
        "enrolment/schedule_edit.html",
        form=form,
        code=code,
        problems=problems or [],
        quote=quote,
    )
