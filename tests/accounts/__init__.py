"""Admin pages for people: accounts, event assignments, API tokens, deactivation."""
