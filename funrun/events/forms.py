"""The organiser's event form; the rules it is checked against live in events.editing."""

from __future__ import annotations

import unicodedata

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from funrun.events.editing import (
    MAX_PICKUP,
    TIMEZONES,
    EventData,
    local_time,
    local_window,
    parse_sizes,
)
from funrun.events.models import DEFAULT_SHIRT_SIZES, Event, Opening

TIMEZONE_LABELS = {
    "Asia/Jakarta": _l("WIB (Asia/Jakarta)"),
    "Asia/Makassar": _l("WITA (Asia/Makassar)"),
    "Asia/Jayapura": _l("WIT (Asia/Jayapura)"),
}


#: WTForms ships no Indonesian: every message the form can show is one of ours.
REQUIRED = _l("This field is required.")
TOO_LONG = _l("At most %(max)d characters.")
IN_RANGE = _l("Enter a number from %(min)s to %(max)s.")
NOT_NUMBER = _l("Enter a whole number.")
NOT_DATE = _l("Enter a date as year-month-day, e.g. 2026-12-13.")
NOT_TIME = _l("Enter a time as hours:minutes, e.g. 06:00.")
NOT_WHEN = _l("Enter a date and a time, e.g. 2026-11-01 08:00.")


def plain_text(_form: FlaskForm, field: StringField) -> None:
    """No control, format, private-use or unassigned characters (nor U+FFFD) in a name.

    A right-to-left override or a zero-width space in a city's name would be printed on
    bibs, rosters and exports; the runner's fields refuse the same characters.
    """
    value = field.data if isinstance(field.data, str) else ""
    if any(
        ch == "\ufffd" or (unicodedata.category(ch).startswith("C") and ch not in "\t\r\n")
        for ch in value
    ):
        raise ValidationError(_l("Contains characters that are not allowed."))


def _count(
    label: object, *, low: int = 0, high: int = 99999, required: bool = True
) -> IntegerField:
    checks = [
        InputRequired(message=REQUIRED) if required else Optional(),
        NumberRange(min=low, max=high, message=IN_RANGE),
    ]
    return IntegerField(
        label,
        validators=checks,
        invalid_value_message=NOT_NUMBER,
        render_kw={"inputmode": "numeric"},
    )


class EventForm(FlaskForm):
    """Create or edit one city's event."""

    slug = StringField(
        _l("Address (slug)"),
        description=_l("Part of the event's web address, e.g. jakarta-2026. Cannot change later."),
        validators=[DataRequired(message=REQUIRED), Length(max=64, message=TOO_LONG)],
        render_kw={"maxlength": 64, "autocapitalize": "none"},
    )
    city = StringField(
        _l("City"),
        validators=[DataRequired(message=REQUIRED), Length(max=80, message=TOO_LONG), plain_text],
    )
    name = StringField(
        _l("Event name"),
        validators=[DataRequired(message=REQUIRED), Length(max=160, message=TOO_LONG), plain_text],
    )
    date = DateField(
        _l("Race date"),
        validators=[InputRequired(message=REQUIRED)],
        invalid_value_message=NOT_DATE,
    )
    date_is_illustrative = BooleanField(_l("The date is not final yet"))
    start_time = TimeField(
        _l("Start time"),
        validators=[InputRequired(message=REQUIRED)],
        invalid_value_message=NOT_TIME,
    )
    timezone = SelectField(
        _l("Time zone of the venue"),
        choices=[SelectChoice(zone, TIMEZONE_LABELS[zone]) for zone in TIMEZONES],
        invalid_choice_message=_l("Choose a time zone from the list."),
    )
    venue = StringField(
        _l("Venue"),
        validators=[DataRequired(message=REQUIRED), Length(max=200, message=TOO_LONG), plain_text],
    )
    quota = _count(_l("Quota (confirmed places)"), low=1, high=99999)
    registration_open = BooleanField(_l("Registration open"), default=True)
    registration_opens_at = DateTimeLocalField(
        _l("Registration opens (optional, venue time)"),
        format="%Y-%m-%dT%H:%M",
        validators=[Optional()],
        invalid_value_message=NOT_WHEN,
    )
    registration_closes_at = DateTimeLocalField(
        _l("Registration closes (optional, venue time)"),
        format="%Y-%m-%dT%H:%M",
        validators=[Optional()],
        invalid_value_message=NOT_WHEN,
    )
    bib_prefix = StringField(
        _l("Bib prefix"),
        description=_l("1 to 8 capital letters or digits, e.g. JKT."),
        validators=[DataRequired(message=REQUIRED), Length(max=8, message=TOO_LONG)],
    )
    bib_first = _count(_l("First bib number"))
    bib_last = _count(_l("Last bib number"))
    bib_colour = StringField(
        _l("Bib colour"),
        default="#0A7A3D",
        validators=[DataRequired(message=REQUIRED), Length(max=7, message=TOO_LONG)],
        render_kw={"type": "color"},
    )
    shirt_sizes = StringField(
        _l("Shirt sizes"),
        description=_l("Separated by commas, smallest first."),
        default=", ".join(DEFAULT_SHIRT_SIZES),
        validators=[DataRequired(message=REQUIRED), Length(max=120, message=TOO_LONG)],
    )
    min_age = _count(_l("Minimum age on race day"), high=120)
    max_age = _count(_l("Maximum age on race day (optional)"), high=120, required=False)
    reminder_days_before = IntegerField(
        _l("Reminder: days before race day"),
        description=_l("1 to 30; leave empty to send no race-week reminder."),
        default=3,
        validators=[
            Optional(),
            NumberRange(min=1, max=30, message=_l("Enter a number of days from 1 to 30.")),
        ],
        invalid_value_message=NOT_NUMBER,
        render_kw={"inputmode": "numeric"},
    )
    proxy_limit = IntegerField(
        _l("Runners one representative may collect race packs for"),
        description=_l("0 to 50; empty: 3."),
        default=3,
        validators=[Optional(), NumberRange(min=0, max=50, message=IN_RANGE)],
        invalid_value_message=NOT_NUMBER,
        render_kw={"inputmode": "numeric"},
    )
    group_hold_days = IntegerField(
        _l("Days a group member has to confirm a held place"),
        description=_l("1 to 60; empty: 7. Places not confirmed by then go to the waitlist."),
        default=7,
        validators=[
            Optional(),
            NumberRange(min=1, max=60, message=_l("Enter a number of days from 1 to 60.")),
        ],
        invalid_value_message=NOT_NUMBER,
        render_kw={"inputmode": "numeric"},
    )
    opening = SelectField(
        _l("How places are given out"),
        choices=[
            SelectChoice(Opening.FIRST_COME.value, _l("First come, first served")),
            SelectChoice(Opening.BALLOT.value, _l("Ballot: entries over the window, then a draw")),
        ],
        default=Opening.FIRST_COME.value,
        invalid_choice_message=_l("Choose how places are given out from the list."),
    )
    pool_non_member = _count(_l("Places kept for runners not yet members"), required=False)
    pool_partner = _count(_l("Places kept for partners' groups"), required=False)
    pools_flow_at = DateTimeLocalField(
        _l("Unfilled kept places go to everyone at (optional, venue time)"),
        description=_l("Empty: the kept places stay kept until race day."),
        format="%Y-%m-%dT%H:%M",
        validators=[Optional()],
        invalid_value_message=NOT_WHEN,
    )
    admit_rate = IntegerField(
        _l("Orderly queue: runners let through to the form a second"),
        description=_l(
            "1 to 10000; empty: no queue. Above this rate runners wait their turn on a light page."
        ),
        validators=[Optional(), NumberRange(min=1, max=10000, message=IN_RANGE)],
        invalid_value_message=NOT_NUMBER,
        render_kw={"inputmode": "numeric"},
    )
    pickup_hours = TextAreaField(
        _l("Race-pack pickup hours and place"),
        description=_l("Told in the reminder, e.g. Sabtu 12 Des, 10.00-18.00, Lobby Mall X."),
        validators=[Optional(), Length(max=MAX_PICKUP, message=TOO_LONG), plain_text],
        render_kw={"maxlength": MAX_PICKUP, "rows": 2},
    )

    def fill(self, event: Event) -> EventForm:
        """Show the event as it is (GET of the edit page)."""
        for name in (
            "city", "name", "date", "date_is_illustrative", "start_time", "timezone",
            "venue", "quota", "registration_open", "bib_prefix", "bib_first", "bib_last",
            "bib_colour", "min_age", "max_age", "reminder_days_before", "pickup_hours",
            "proxy_limit", "group_hold_days", "opening", "pool_non_member", "pool_partner",
            "admit_rate",
        ):  # fmt: skip
            self[name].data = getattr(event, name)
        self.shirt_sizes.data = ", ".join(event.shirt_sizes)
        self.registration_opens_at.data, self.registration_closes_at.data = local_window(event)
        self.pools_flow_at.data = local_time(event, event.pools_flow_at)
        return self

    def data_for_service(self, *, with_slug: bool) -> EventData:
        """The submitted values, typed, for events.editing."""
        return EventData(
            slug=(self.slug.data or "").strip() if with_slug else None,
            city=self.city.data.strip(),
            name=self.name.data.strip(),
            date=self.date.data,
            date_is_illustrative=bool(self.date_is_illustrative.data),
            start_time=self.start_time.data,
            timezone=self.timezone.data,
            venue=self.venue.data.strip(),
            quota=self.quota.data,
            registration_open=bool(self.registration_open.data),
            registration_opens_at=self.registration_opens_at.data,
            registration_closes_at=self.registration_closes_at.data,
            bib_prefix=self.bib_prefix.data.strip().upper(),
            bib_first=self.bib_first.data,
            bib_last=self.bib_last.data,
            bib_colour=self.bib_colour.data.strip(),
            shirt_sizes=parse_sizes(self.shirt_sizes.data or ""),
            min_age=self.min_age.data,
            max_age=self.max_age.data,
            reminder_days_before=self.reminder_days_before.data,
            pickup_hours=(self.pickup_hours.data or "").strip() or None,
            proxy_limit=3 if self.proxy_limit.data is None else self.proxy_limit.data,
            group_hold_days=7 if self.group_hold_days.data is None else self.group_hold_days.data,
            opening=self.opening.data,
            pool_non_member=self.pool_non_member.data or 0,
            pool_partner=self.pool_partner.data or 0,
            pools_flow_at=self.pools_flow_at.data,
            admit_rate=self.admit_rate.data,
        )


class SwitchForm(FlaskForm):
    """Open or close registration (a button: CSRF only)."""
