"""Rate limits: the public registration limit per client, partners' higher own limit."""

from __future__ import annotations

from flask import current_app, g

from funrun.accounts.auth import bearer_user


def public_limit() -> str:
    """The configured public limit (FUNRUN_RATE_LIMITS, e.g. ``20/minute``)."""
    return current_app.config["FUNRUN_RATE_LIMITS"]


def partner_limit() -> str:
    """The limit for a partner's API token."""
    return current_app.config["FUNRUN_PARTNER_RATE_LIMITS"]


def exempt_from_public_limit() -> bool:
    """Partner and staff tokens are counted under their own limit instead."""
    return current_app.config["FUNRUN_RATE_LIMITS"] == "off" or bearer_user() is not None


def exempt_from_partner_limit() -> bool:
    """Only calls made with a token count against the partner limit."""
    return bearer_user() is None


def token_key() -> str:
    """Partners are limited per account, not per address (many sit behind one NAT)."""
    user = bearer_user()
    g.setdefault("_limit_user", user)
    return f"user:{user.id}" if user else "anonymous"
