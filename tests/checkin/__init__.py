"""Tests for race-day check-in."""
