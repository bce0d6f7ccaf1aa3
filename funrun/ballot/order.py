"""The draw's order: the one rule anyone can recompute (``scripts/verify_ballot.py``).

Each entry has a number given when it was made (1, 2, 3, ... in its event, shown to the
entrant). With the seed published after the draw (64 hexadecimal characters), an entry's
key is the SHA-256 of the ASCII text ``f"{seed}:{entry_number}"`` written as 64 lowercase
hexadecimal characters; the draw's order is the entries sorted by that key, ascending
(two equal keys, never seen in practice, by entry number). Rank 1 is the first.

Every entry number ever given is ranked, withdrawn ones too (their rank is published
with the outcome ``withdrawn``), so the order depends on nothing but the seed and the
numbers: a withdrawal cannot move anybody else.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def entry_key(seed: str, entry_number: int) -> str:
    """The entry's key in the draw: SHA-256 of ``"<seed>:<entry_number>"``, hex."""
    return hashlib.sha256(f"{seed}:{entry_number}".encode("ascii")).hexdigest()


def draw_order(seed: str, entry_numbers: Iterable[int]) -> list[int]:
    """The entry numbers in draw order (first drawn first)."""
    return sorted(entry_numbers, key=lambda number: (entry_key(seed, number), number))
