"""Fixtures of the tour-identity tests: staff accounts and runners, as the desk tests make them."""

from tests.checkin.conftest import (  # noqa: F401  (fixtures reused here)
    _fast_password_hashes,
    add_runners,
    make_staff,
)
