"""The registration feature's services, for the views and the other features.

The rules live in modules named after them: :mod:`.register` (taking a place, in the
statements of :mod:`.places`), :mod:`.cancelling` (cancel, waitlist promotion),
:mod:`.contact`, :mod:`.terms` (what registering reads of an event first),
:mod:`.tokens` (manage links, form ids), :mod:`.notices` (privacy notices) and
:mod:`.outcomes` (what registering answers). This module gathers their public names so
importers need only one.
"""

from __future__ import annotations

from funrun.registration.cancelling import (
    cancel,
    lock_event,
    locked_registration,
    promote_waitlist,
    release_place,
    waitlist_position,
)
from funrun.registration.contact import update_contact
from funrun.registration.notices import (
    NOTICE_VERSION,
    Notice,
    NoticeRef,
    current_privacy_notice,
    stored_notice,
)
from funrun.registration.outcomes import (
    AlreadyCancelled,
    DuplicateRegistration,
    NewRegistration,
    RegistrationClosed,
    RegistrationError,
    RegistrationSnapshot,
)
from funrun.registration.register import register
from funrun.registration.terms import EventTerms, RegisterableEvent, event_terms
from funrun.registration.tokens import (
    SUBMISSION_SHAPE,
    find_by_token,
    hash_token,
    manage_token_for,
    new_manage_token,
    new_submission_ref,
    resent_registration,
)

__all__ = [
    "NOTICE_VERSION",
    "SUBMISSION_SHAPE",
    "AlreadyCancelled",
    "DuplicateRegistration",
    "EventTerms",
    "NewRegistration",
    "Notice",
    "NoticeRef",
    "RegisterableEvent",
    "RegistrationClosed",
    "RegistrationError",
    "RegistrationSnapshot",
    "cancel",
    "current_privacy_notice",
    "event_terms",
    "find_by_token",
    "hash_token",
    "lock_event",
    "locked_registration",
    "manage_token_for",
    "new_manage_token",
    "new_submission_ref",
    "promote_waitlist",
    "register",
    "release_place",
    "resent_registration",
    "stored_notice",
    "update_contact",
    "waitlist_position",
]
