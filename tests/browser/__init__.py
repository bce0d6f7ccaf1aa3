"""Tests for the browser feature."""
