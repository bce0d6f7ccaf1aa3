"""Tests for messages to runners: the outbox, its channels and the sender."""
