"""Form bodies the pages refuse before anything reads them: not UTF-8, control characters, files.

Werkzeug never fails on a broken form body: invalid UTF-8 in an urlencoded body is kept as
the literal ``%XX`` text, in a multipart part it becomes U+FFFD, and a NUL byte passes
through (PostgreSQL then refuses it in any text column or comparison: a 500). No page
takes a file either, and Flask-WTF would hand a text field the file object (a view then
fails on it). No browser sends any of these from our forms, so such a body is a 400 page,
the same for every form, before the CSRF check and the views. The JSON API has its own
checks.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from flask import Flask, abort, request

#: C0 controls and DEL; tab, line feed and carriage return are typed into text areas.
CONTROLS = frozenset(chr(c) for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F))
URLENCODED = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
#: The one form that takes a file (the tour's logo): its endpoint, the file field, and the
#: body it may send (a 100 KB PNG and the form's fields; other pages keep Config's 64 KB).
FILE_FORMS = {
    "events.tour_identity": ("logo", 116 * 1024),
    # A sponsor's list of NIKs: 100,000 lines and a few columns more (sponsors/views.py).
    "sponsors.upload_list": ("file", 8 * 1024 * 1024 + 16 * 1024),
    # A partner's group as CSV (funrun/groups/partner_views.py): the API's body limit
    # (funrun.groups.bodies.MAX_BODY, 48 MiB) and the form's fields.
    "partner.upload_group": ("file", 48 * 1024 * 1024 + 16 * 1024),
    # The scheme's payment file (funrun/payments/uploads.py MAX_BYTES) and the form's fields.
    "reports.payments_page": ("file", 64 * 1024 * 1024 + 16 * 1024),
}


def broken_form() -> bool:
    """Whether this request's form body is not UTF-8, holds control characters or a file."""
    if request.method not in ("POST", "PUT", "PATCH") or request.path.startswith("/api/"):
        return False
    if request.mimetype == URLENCODED:
        # Read (and cache) the raw body first: once parsed, the bad bytes are gone.
        raw = request.get_data(cache=True, parse_form_data=False)
        try:
            unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
        except UnicodeDecodeError:
            return True
    elif request.mimetype != MULTIPART:
        return False
    elif request.files:
        # Only the logo form takes a file, in its file field only; Flask-WTF would hand
        # any other field the file object.
        allowed = FILE_FORMS.get(request.endpoint or "")
        if allowed is None or set(request.files) != {allowed[0]}:
            return True
        if len(request.files.getlist(allowed[0])) != 1:
            return True
    for key, value in request.form.items(multi=True):
        if any(ch in CONTROLS for ch in key + value):
            return True
        # Multipart parts are decoded with "replace": U+FFFD is where bytes were not UTF-8.
        if request.mimetype == MULTIPART and "\ufffd" in key + value:
            return True
    return False


def init_app(app: Flask) -> None:
    """Refuse broken form bodies with a 400, ahead of every other request hook."""

    def _refuse_broken_forms() -> None:
        allowed = FILE_FORMS.get(request.endpoint or "")
        if allowed is not None and request.method == "POST":
            request.max_content_length = allowed[1]
        if broken_form():
            abort(400)

    # First: Flask-WTF's CSRF check parses the form, after which the raw body is gone.
    app.before_request_funcs.setdefault(None, []).insert(0, _refuse_broken_forms)
