"""Accounts: staff and partner users, roles, event assignments, API tokens."""
