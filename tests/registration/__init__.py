"""Tests for the registration feature."""
