"""Group registrations: a partner (aggregator) brings its members; each confirms alone."""
