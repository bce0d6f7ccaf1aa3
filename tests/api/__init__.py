"""Tests for the api feature."""
