"""The cash receipt (kuitansi) of an enrolment; also makes the contribution wording
(funrun.enrolment.wording) available to every template."""

from __future__ import annotations

from flask import abort
from flask.blueprints import BlueprintSetupState
from werkzeug.wrappers import Response

from funrun.accounts.access import DESK_STAFF, roles_required
from funrun.bibs.views import pdf_response
from funrun.enrolment import bp, wording
from funrun.enrolment.views import enrolment_for_staff


@bp.record_once
def _template_helpers(state: BlueprintSetupState) -> None:
    wording.init_app(state.app)


@bp.route("/staff/enrolments/<number>/kuitansi.pdf")
@roles_required(*DESK_STAFF)
def receipt(number: str) -> Response:
    """The cash receipt PDF (404 when the enrolment was not paid in cash at the desk)."""
    enrolment = enrolment_for_staff(number)
    if enrolment.payment_channel != "cash" or not enrolment.receipt_number:
        abort(404)
    # reportlab loads when a receipt is made, not in every serving process.
    from funrun.enrolment.receipt import enrolment_receipt

    return pdf_response(enrolment_receipt(enrolment), f"kuitansi-{enrolment.receipt_number}.pdf")
