"""The tour's identity: the organisers' form, and the logo and theme every page loads."""

from __future__ import annotations

import hashlib

from flask import abort, flash, g, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response
from wtforms import BooleanField, StringField

from funrun.accounts.access import ORGANISERS, roles_required
from funrun.events import bp
from funrun.events.identity import (
    MAX_LOGO_BYTES,
    Brand,
    IdentityError,
    brand_of,
    check_png,
    clean_colour,
    save_identity,
    site_brand_now,
    theme_css,
)
from funrun.events.models import Tour
from funrun.extensions import db
from funrun.people.rules import RuleBroken, single_line

#: Logos and themes are public and change rarely; their URLs carry a version.
CACHE_SECONDS = 86400
#: What a logo may be shown as: an image, nothing it could run or load.
LOGO_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
#: The upload's body: the logo and the form's few fields (Config's 64 KB is for text).
UPLOAD_LIMIT = MAX_LOGO_BYTES + 16 * 1024


class IdentityForm(FlaskForm):
    """The organiser's and scheme's names, the two colours and the logo of a tour."""

    organiser = StringField(_l("Organiser"), render_kw={"maxlength": 120})
    scheme_name = StringField(
        _l("Scheme name (optional)"),
        description=_l("Shown at the foot of every page, e.g. BPJS Ketenagakerjaan."),
        render_kw={"maxlength": 120},
    )
    colour = StringField(
        _l("Main colour"),
        description=_l("# and six hex digits, e.g. #0A7A3D: the header and buttons."),
        render_kw={"maxlength": 7, "pattern": "#[0-9A-Fa-f]{6}", "autocomplete": "off"},
    )
    accent_colour = StringField(
        _l("Accent colour"),
        description=_l("# and six hex digits, e.g. #F2A900."),
        render_kw={"maxlength": 7, "pattern": "#[0-9A-Fa-f]{6}", "autocomplete": "off"},
    )
    logo = FileField(
        _l("Logo (PNG, at most 100 KB)"),
        render_kw={"accept": "image/png"},
    )
    remove_logo = BooleanField(_l("Remove the logo"))


def _tour_or_404(slug: str) -> Tour:
    tour = db.session.scalar(select(Tour).where(Tour.slug == slug))
    if tour is None:
        abort(404)
    return tour


def _name(form: IdentityForm, field: str, *, required: bool) -> str | None:
    try:
        return single_line(form[field].data, max_length=120, required=required)
    except RuleBroken as broken:
        raise IdentityError(field, " ".join(broken.messages)) from None


def _uploaded(form: IdentityForm) -> bytes | None:
    """The logo's bytes, read at most one byte past the limit; None when none was sent."""
    upload = form.logo.data
    if not isinstance(upload, FileStorage) or not upload.filename:
        return None
    return upload.stream.read(MAX_LOGO_BYTES + 1)


@bp.route("/staff/tours/<slug:slug>/identity", methods=["GET", "POST"])
@roles_required(*ORGANISERS)
def tour_identity(slug: str) -> Response | str | tuple[str, int]:
    """Set the tour's names, colours and logo (checked by content: PNG only)."""
    tour = _tour_or_404(slug)
    form = IdentityForm(obj=None if request.method == "POST" else tour)
    status = 200
    if request.method == "POST":
        if not form.validate():
            abort(400)
        try:
            organiser = _name(form, "organiser", required=True)
            scheme = _name(form, "scheme_name", required=False)
            colour = clean_colour(form.colour.data, "colour")
            accent = clean_colour(form.accent_colour.data, "accent_colour")
            logo = _uploaded(form)
            if logo is not None:
                check_png(logo)
        except IdentityError as refused:
            form[refused.field].errors = [str(refused.message)]
            status = 422
        else:
            save_identity(
                tour,
                organiser=organiser or tour.organiser,
                scheme_name=scheme,
                colour=colour,
                accent_colour=accent,
                logo=logo,
                remove_logo=bool(form.remove_logo.data),
            )
            flash(_("The tour's identity is saved."), "success")
            return redirect(url_for("events.tour_identity", slug=tour.slug), code=303)
    return (
        render_template("events/identity.html", tour=tour, form=form, brand=brand_of(tour.id)),
        status,
    )


def _cached(response: Response, body: bytes) -> Response:
    """Public, cached a day, with an ETag; a matching If-None-Match is a 304."""
    response.set_etag(hashlib.sha256(body).hexdigest()[:32])
    response.headers["Cache-Control"] = f"public, max-age={CACHE_SECONDS}"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response.make_conditional(request)


@bp.route("/tours/<slug:slug>/logo")
def tour_logo(slug: str) -> Response:
    """The tour's logo (a checked PNG), never anything a browser would run."""
    row = db.session.execute(select(Tour.logo, Tour.logo_type).where(Tour.slug == slug)).first()
    if row is None or not row.logo or row.logo_type != "image/png":
        abort(404)
    response = make_response(bytes(row.logo))
    response.mimetype = "image/png"
    response.headers["Content-Security-Policy"] = LOGO_CSP
    response.headers["Content-Disposition"] = 'inline; filename="logo.png"'
    return _cached(response, bytes(row.logo))


@bp.route("/tours/<slug:slug>/theme.css")
def tour_theme(slug: str) -> Response:
    """The tour's colours as CSS custom properties (the CSP allows no inline style)."""
    tour_id = db.session.scalar(select(Tour.id).where(Tour.slug == slug))
    if tour_id is None:
        abort(404)
    brand = brand_of(tour_id)
    assert brand is not None
    body = theme_css(brand).encode()
    response = make_response(body)
    response.mimetype = "text/css"
    return _cached(response, body)


def site_brand() -> Brand | None:
    """The newest tour's brand for the page being drawn (once per request), or None."""
    if "funrun_brand" not in g:
        try:
            g.funrun_brand = site_brand_now()
        except SQLAlchemyError:  # an error page after a failed query still renders
            g.funrun_brand = None
    return g.funrun_brand


@bp.app_context_processor
def _inject_brand() -> dict[str, object]:
    return {"site_brand": site_brand}
