"""Why an enrolment is refused: the exceptions the desk and the API turn into answers."""

from __future__ import annotations


class EnrolmentError(Exception):
    """An enrolment was refused; the message is for the volunteer."""


class AlreadyMember(EnrolmentError):
    """The runner said they are a member (has a KPJ number)."""


class AlreadyEnrolled(EnrolmentError):
    """This NIK was enrolled before, in this or another city."""


class NotEnrollable(EnrolmentError):
    """The registration is cancelled, or the walk-up is registered here already."""


class RegistrationNotFound(EnrolmentError):
    """No registration of this event has that bib."""


class NoSchedule(EnrolmentError):
    """No contribution schedule is in force on the enrolment date."""
