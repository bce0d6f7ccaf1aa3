"""Staff accounts for the desk's registration pages (the dispute desk)."""

from tests.checkin.conftest import _fast_password_hashes, make_staff  # noqa: F401
