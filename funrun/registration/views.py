"""The runner's pages: register, see the confirmation, manage or cancel."""

from __future__ import annotations

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from funrun.events.services import get_event, summary_of
from funrun.extensions import limiter
from funrun.groups import confirming
from funrun.groups.held import CONFIRM, CONSENT_MISSING, HoldForm, held_page
from funrun.messages.history import channel_name, for_registration, state_name
from funrun.messages.wording import kind_name
from funrun.opening.gate import Gate
from funrun.people.crypto import data_cipher, mask_nik
from funrun.ratelimit import exempt_from_public_limit, public_limit
from funrun.registration import bp
from funrun.registration.forms import CancelForm, ContactForm, RegistrationForm, RemindersForm
from funrun.registration.keep_link import keep_link
from funrun.registration.models import Registration, RegistrationSource, RegistrationStatus
from funrun.registration.notices import notice_words
from funrun.registration.reminder_switch import set_reminders
from funrun.registration.services import (
    AlreadyCancelled,
    DuplicateRegistration,
    RegistrationClosed,
    cancel,
    current_privacy_notice,
    event_terms,
    find_by_token,
    register,
    resent_registration,
    update_contact,
    waitlist_position,
)
from funrun.registration.validation import (
    ValidationFailed,
    clean_contact_change,
    clean_registration,
    national_format,
)


def _attach_errors(form: ContactForm, errors: dict[str, list[str]]) -> None:
    for name, messages in errors.items():
        if name in form:
            form[name].errors = list(messages)


@bp.route("/events/<slug:slug>/register", methods=["GET", "POST"])
@limiter.limit(public_limit, methods=["POST"], exempt_when=exempt_from_public_limit)
def register_page(slug: str) -> Response | str | tuple[str, int]:
    """The registration form; a valid submission lands on the confirmation.

    An event with an admit rate has an orderly queue in front (funrun.opening).
    """
    queue = Gate(slug)
    waiting = queue.waiting()  # from the signed ticket alone: no database read
    if waiting is not None:
        return waiting
    locale = str(get_locale())
    # What registering needs, as the API reads it (remembered for a few seconds per
    # process: a rush's forms read no event row; the write checks under the lock).
    terms, notice = event_terms(slug, locale)
    if terms is None:
        abort(404)
    refused = queue.check(terms)
    if refused is not None:
        return refused
    form = RegistrationForm().for_event(terms)
    submission = form.sent_submission()
    status = 200
    lost_link = False
    if request.method == "POST" and form.validate():
        try:
            data = clean_registration(form.raw(), terms)
            new = register(
                terms,
                data,
                notice=notice or current_privacy_notice(locale),
                source=RegistrationSource.WEB,
                locale=locale,
                submission=submission,
            )
        except ValidationFailed as failed:
            _attach_errors(form, failed.errors)  # listed and linked at the top of the form
            status = 422
        except DuplicateRegistration as refused:
            # The same form again: its first sending registered; the answer was lost.
            token = submission and resent_registration(terms.id, data.nik, submission)
            if token:
                done = redirect(url_for("registration.manage", token=token, new=1))
                return queue.finish(done, used_up=True)
            flash(str(refused), "error")
            status = 409
            lost_link = True
        except RegistrationClosed as refused:
            flash(str(refused), "error")
            status = 409
        else:
            done = redirect(url_for("registration.manage", token=new.manage_token, new=1))
            return queue.finish(done, used_up=True)
    elif request.method == "POST":
        status = 400
    # A page shown: the event as it is now, with the places left.
    summary = summary_of(slug)
    if summary is None:
        abort(404)
    page = render_template(
        "registration/form.html",
        form=form,
        summary=summary,
        notice=notice_words(locale),
        lost_link=lost_link,
    )
    return queue.finish(make_response(page, status))


def _registration_or_404(token: str) -> Registration:
    registration = find_by_token(token)
    if registration is None:
        abort(404)
    return registration


@bp.route("/r/<token>", methods=["GET", "POST"])
def manage(token: str) -> Response | str | tuple[str, int]:
    """The runner's own page: status, bib or waitlist place, corrections."""
    registration = _registration_or_404(token)
    if registration.status == RegistrationStatus.HELD:  # a group member confirms first
        if request.method == "POST":
            flash(_("Confirm your place first; then you can correct your details."), "error")
            return held_page(registration, token, status=409)
        return held_page(registration, token)
    form = ContactForm(obj=registration).for_event(registration.event)
    if request.method == "GET":
        form.phone.data = national_format(registration.phone)
        form.emergency_phone.data = national_format(registration.emergency_phone)
    status = 200
    if request.method == "POST":
        if form.validate():
            try:
                update_contact(registration, clean_contact_change(form.raw(), registration.event))
            except ValidationFailed as failed:
                _attach_errors(form, failed.errors)
                flash(_("Some fields need correcting. See the messages below."), "error")
                status = 422
            except AlreadyCancelled as refused:
                flash(str(refused), "error")
                status = 409
            else:
                flash(_("Your changes are saved."), "success")
                return redirect(url_for("registration.manage", token=token))
        else:
            status = 400
    nik = data_cipher().decrypt(registration.person.nik_encrypted)
    just_registered = request.args.get("new") == "1"
    switch = None
    if registration.status != RegistrationStatus.CANCELLED:
        switch = RemindersForm()
        switch.reminders.data = "on" if registration.reminders_off else "off"
    return (
        render_template(
            "registration/manage.html",
            registration=registration,
            token=token,
            form=form,
            just_registered=just_registered,
            keep=keep_link(registration, token) if just_registered else None,
            position=waitlist_position(registration),
            masked_nik=mask_nik(nik),
            switch=switch,
            sent=for_registration(registration.id),
            kind_name=kind_name,
            channel_name=channel_name,
            state_name=state_name,
            went_back=confirming.went_back(registration),
        ),
        status,
    )


@bp.route("/r/<token>/confirm", methods=["POST"])
def confirm_hold(token: str) -> Response | tuple[str, int]:
    """A group member confirms the held place (with their consent) or lets it go."""
    registration = _registration_or_404(token)
    form = HoldForm()
    pressed = form.chosen(request.form.get("action"))
    if not form.validate() or pressed is None:
        abort(400)
    held = registration.status == RegistrationStatus.HELD
    if pressed == CONFIRM:
        notice = form.shown_notice()
        if held and not form.consent.data:
            form.consent.errors = [str(CONSENT_MISSING)]
            return held_page(registration, token, form, status=422)
        if held and notice is None:  # the notice changed since the page was shown
            flash(_("The privacy notice has changed: please read it again."), "error")
            return held_page(registration, token, status=409)
        answer = confirming.confirm(registration.id, notice.id if notice else 0)
    else:
        answer = confirming.decline(registration)
    good = answer in (
        confirming.Answer.CONFIRMED,
        confirming.Answer.ALREADY_CONFIRMED,
        confirming.Answer.DECLINED,
    )
    flash(confirming.message(answer), "success" if good else "error")
    return redirect(url_for("registration.manage", token=token), code=303)


@bp.route("/r/<token>/reminders", methods=["POST"])
def reminders_switch(token: str) -> Response:
    """Turn race-week reminders on or off; back to the manage page with a notice."""
    registration = _registration_or_404(token)
    form = RemindersForm()
    wanted = form.wanted() if form.validate() else None
    if wanted is None:
        abort(400)
    try:
        set_reminders(registration, on=wanted)
    except AlreadyCancelled as refused:
        flash(str(refused), "error")
    else:
        flash(
            _("Race-week reminders are on.") if wanted else _("Race-week reminders are off."),
            "success",
        )
    return redirect(url_for("registration.manage", token=token), code=303)


@bp.route("/r/<token>/cancel", methods=["GET", "POST"])
def cancel_page(token: str) -> Response | str | tuple[str, int]:
    """Ask, then cancel; the freed place goes to the head of the waitlist."""
    registration = _registration_or_404(token)
    form = CancelForm()
    if request.method == "POST" and form.validate():
        try:
            cancel(registration)
        except AlreadyCancelled as refused:
            flash(str(refused), "error")
            return redirect(url_for("registration.manage", token=token))
        flash(_("Your registration is cancelled."), "success")
        return redirect(url_for("registration.manage", token=token))
    return render_template(
        "registration/cancel.html", registration=registration, form=form, token=token
    )


@bp.route("/privacy")
def privacy() -> str:
    """The privacy notice in the page language, exactly as runners consent to it."""
    return render_template(
        "registration/privacy.html", notice=current_privacy_notice(str(get_locale()))
    )


@bp.route("/events/<slug:slug>/privacy")
def event_privacy(slug: str) -> Response:
    """Kept short for printed material: the privacy notice."""
    if get_event(slug) is None:
        abort(404)
    return redirect(url_for("registration.privacy"))
