"""The cash receipt (kuitansi) of an enrolment; also makes the contribution wording
(funrun.enrolment.wording) available to every template."""

from __future__ import annotations

from flask.blueprints import BlueprintSetupState

from funrun.enrolment import bp, wording


@bp.record_once
def _template_helpers(state: BlueprintSetupState) -> None:
    wording.init_app(state.app)
