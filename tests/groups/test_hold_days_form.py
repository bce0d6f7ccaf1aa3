"""The days a partner's group member has to confirm a held place: set per event."""

from __future__ import annotations

import pytest

from funrun.events.editing import EventEditError, update_event
from funrun.events.forms import EventForm
from funrun.events.models import Event
from funrun.extensions import db


def _form_data(app, event):
    with app.test_request_context(method="POST"):
        form = EventForm(meta={"csrf": False})
        form.fill(event)
        return form.data_for_service(with_slug=False)


def test_the_event_form_sets_the_hold_days_within_1_to_60(app, make_event):
    event = make_event(slug="solo", city="Solo", bib_prefix="SOC", quota=10)
    assert event.group_hold_days == 7
    data = _form_data(app, event)
    assert data.group_hold_days == 7
    data.group_hold_days = 14
    update_event(event, data)
    assert db.session.get(Event, event.id).group_hold_days == 14
    for wrong in (0, 61, -3):
        data.group_hold_days = wrong
        with pytest.raises(EventEditError) as refused:
            update_event(event, data)
        assert list(refused.value.errors) == ["group_hold_days"]
        db.session.rollback()
    assert db.session.get(Event, event.id).group_hold_days == 14


@pytest.mark.parametrize(("sent", "kept"), [("", 7), ("3", 3), ("60", 60)])
def test_the_form_reads_what_an_organiser_types(app, make_event, sent, kept):
    event = make_event(slug="solo", city="Solo", bib_prefix="SOC", quota=10)
    with app.test_request_context(method="POST", data={"group_hold_days": sent}):
        form = EventForm(meta={"csrf": False})
        assert form.group_hold_days.validate(form)
        typed = form.group_hold_days.data
        form.fill(event)  # the rest of the event as it is
        form.group_hold_days.data = typed
        assert form.data_for_service(with_slug=False).group_hold_days == kept


@pytest.mark.parametrize("sent", ["0", "61", "tujuh", "1e3"])
def test_the_form_refuses_other_values_with_a_message(app, make_event, sent):
    make_event(slug="solo", city="Solo", bib_prefix="SOC", quota=10)
    with app.test_request_context(method="POST", data={"group_hold_days": sent}):
        form = EventForm(meta={"csrf": False})
        assert not form.group_hold_days.validate(form)
        assert form.group_hold_days.errors and all(form.group_hold_days.errors)
