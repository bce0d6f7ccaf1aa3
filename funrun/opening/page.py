"""The waiting page, drawn from a signed ticket and each language's words.

Thousands of runners a second may load it, so it is not a Jinja template: each
language's words are translated once per process (in a request context, as any page's
are) and the page is one format string filled with the ticket's figures. It is about
1 KB with its 1 KB stylesheet, works without JavaScript (``<meta http-equiv="refresh">``)
and loads nothing from another host.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import quote

from flask import Flask, url_for
from flask_babel import get_translations
from flask_babel import gettext as _
from markupsafe import escape

from funrun.opening.passes import Ticket

#: The waiting page asks again halfway to the slot, but not sooner than this or later
#: than that (seconds), and in the slot's own second when it is nearer than that.
SOONEST_REFRESH = 5
LATEST_REFRESH = 60

PAGE = """<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="{refresh}">
<title>{title} · {name}</title>
<link rel="stylesheet" href="{css}">
</head>
<body>
<header><span>{brand}</span><nav aria-label="{language}">{switch}</nav></header>
<main>
{notices}<h1>{heading}</h1>
<div class="place" role="status">{place_label}<strong>{place}</strong>
<p class="wait">{wait}</p></div>
<p class="note">{note}</p>
<p class="note">{keep}</p>
<a class="again" href="{path}">{again}</a>
</main>
</body>
</html>
"""


@dataclass(frozen=True)
class Words:
    """One language's words for the page, translated and HTML-escaped once."""

    lang: str
    title: str
    brand: str
    language: str
    #: The other languages' links, with ``{next}`` for the page's own path.
    switch: str
    heading: str
    place_label: str
    seconds: tuple[str, str]
    minutes: tuple[str, str]
    note: str
    keep: str
    again: str
    css: str
    thousands: str


def refresh_after(slot: float, now: float) -> int:
    """Whole seconds until the waiting page asks again: halfway to the slot (5-60 s), or,
    when it is nearer, as the slot's second begins (the page can only wait whole seconds,
    so it comes back in that second, at now's fraction of it): a few requests a runner,
    however long the wait."""
    halfway = max(SOONEST_REFRESH, min(LATEST_REFRESH, math.ceil((slot - now) / 2)))
    return max(1, min(math.floor(slot) - math.floor(now), halfway))


def _html(text: str) -> str:
    return str(escape(text))


def _plural(singular: str, plural: str) -> tuple[str, str]:
    translations = get_translations()
    return (
        str(escape(translations.ungettext(singular, plural, 1))),
        str(escape(translations.ungettext(singular, plural, 2))),
    )


def _translate(app: Flask, lang: str) -> Words:
    with app.test_request_context(f"/?lang={lang}"):
        switch = "".join(
            f'<a href="{escape(url_for("i18n.switch_language", code=code))}?next={{next}}" '
            f'hreflang="{code}" lang="{code}">{code.upper()}</a>'
            for code in app.config["LANGUAGES"]
            if code != lang
        )
        return Words(
            lang=lang,
            title=str(escape(_("In the queue"))),
            brand=str(escape(_("Fun Run 5K"))),
            language=str(escape(_("Language"))),
            switch=switch,
            heading=str(escape(get_translations().ugettext("You are in the queue for %(name)s"))),
            place_label=str(escape(_("Your place in line"))),
            seconds=_plural("About %(num)s second to wait", "About %(num)s seconds to wait"),
            minutes=_plural("About %(num)s minute to wait", "About %(num)s minutes to wait"),
            note=_html(
                _(
                    "Many runners are registering at once, so the form lets them in a few at "
                    "a time, in the order they came. Keep this page open: it refreshes by "
                    "itself and opens the form when your turn comes."
                )
            ),
            keep=_html(_("Leaving or reloading the page does not lose your place on this phone.")),
            again=str(escape(_("Check again now"))),
            css=url_for("static", filename="css/queue.css"),
            thousands="." if lang == "id" else ",",
        )


def words(app: Flask, lang: str) -> Words:
    """The page's words in ``lang``, translated once per process."""
    known = app.extensions.setdefault("funrun_queue_words", {})
    found = known.get(lang)
    if found is None:
        found = known[lang] = _translate(app, lang)
    return found


def render(words: Words, ticket: Ticket, now: float, path: str, notices: list[str]) -> str:
    """The waiting page for ``ticket`` at ``now`` (``notices``: messages to show first)."""
    wait = ticket.wait(now)
    seconds = math.ceil(wait)
    if seconds < 60:
        wait_text = words.seconds[seconds != 1].replace("%(num)s", str(seconds))
    else:
        minutes = math.ceil(wait / 60)
        wait_text = words.minutes[minutes != 1].replace("%(num)s", str(minutes))
    name = str(escape(ticket.name))
    return PAGE.format(
        lang=words.lang,
        refresh=refresh_after(ticket.slot, now),
        title=words.title,
        name=name,
        css=words.css,
        brand=words.brand,
        language=words.language,
        switch=words.switch.replace("{next}", quote(path, safe="/")),
        notices="".join(f'<p class="flash" role="alert">{escape(n)}</p>\n' for n in notices),
        heading=words.heading.replace("%(name)s", name),
        place_label=words.place_label,
        place=f"{ticket.place(now):,}".replace(",", words.thousands),
        wait=wait_text,
        note=words.note,
        keep=words.keep,
        path=escape(path),
        again=words.again,
    )
