"""Tests for the people feature."""
