"""Forms of the staff message pages: a broadcast's words, and the bare POST buttons."""

from __future__ import annotations

import unicodedata
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import ValidationError

SUBJECT_MAX = 150
BODY_MAX = 2000


def _clean(value: Any) -> str:
    """The field's text with Windows line ends made plain and the ends trimmed."""
    return value.replace("\r\n", "\n").replace("\r", "\n").strip() if isinstance(value, str) else ""


class _Text:
    """Required (or optional) text: not only whitespace, no control characters (a
    newline only where ``lines``), at most ``limit`` characters."""

    def __init__(self, limit: int, *, required: bool, lines: bool) -> None:
        self.limit, self.required, self.lines = limit, required, lines

    def __call__(self, _form: FlaskForm, field: Any) -> None:
        value = _clean(field.data)
        field.data = value
        if not value:
            if self.required:
                raise ValidationError(_l("Write something here: it cannot be empty."))
            return
        if len(value) > self.limit:
            raise ValidationError(_l("At most %(max)d characters.", max=self.limit))
        allowed = "\n\t" if self.lines else ""
        if any(
            ch == "\ufffd" or (unicodedata.category(ch).startswith("C") and ch not in allowed)
            for ch in value
        ):
            raise ValidationError(_l("Contains characters that are not allowed."))


class BroadcastForm(FlaskForm):
    """An organiser's message to the confirmed runners: Indonesian required, English
    optional (runners who chose English get it when it is there)."""

    subject_id = StringField(
        _l("Subject (Bahasa Indonesia)"),
        validators=[_Text(SUBJECT_MAX, required=True, lines=False)],
    )
    body_id = TextAreaField(
        _l("Message (Bahasa Indonesia)"),
        description=_l("A blank line starts a new paragraph."),
        validators=[_Text(BODY_MAX, required=True, lines=True)],
    )
    subject_en = StringField(
        _l("Subject (English, optional)"),
        validators=[_Text(SUBJECT_MAX, required=False, lines=False)],
    )
    body_en = TextAreaField(
        _l("Message (English, optional)"),
        validators=[_Text(BODY_MAX, required=False, lines=True)],
    )
    #: This form's one-time token: a second submit of the same form sends nothing more.
    form_token = HiddenField()

    def validate_body_en(self, field: Any) -> None:
        if _clean(self.subject_en.data) and not _clean(field.data):
            raise ValidationError(_l("Write the English message too, or leave both empty."))

    def text(self) -> dict[str, str | None]:
        """The broadcast's columns (after validation)."""
        return {
            "subject_id": _clean(self.subject_id.data),
            "body_id": _clean(self.body_id.data),
            "subject_en": _clean(self.subject_en.data) or None,
            "body_en": _clean(self.body_en.data) or None,
        }


class ActionForm(FlaskForm):
    """A button that posts (retry): only its CSRF token."""
