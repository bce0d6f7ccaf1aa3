"""The demo tour (the 2015 11-city tour) and synthetic runners for load and demos."""
