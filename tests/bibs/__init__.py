"""Tests for the bibs feature."""
