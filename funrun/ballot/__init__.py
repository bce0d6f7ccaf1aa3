"""Ballot openings: entries over the registration window, then a draw anyone can check."""
