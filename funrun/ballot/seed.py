"""The ballot's secret seed and the hash that commits to it before anyone enters.

The seed is 32 random bytes written as 64 hexadecimal characters; what is published
before the window opens is the SHA-256 of those 64 characters (as ASCII), so anyone
holding the seed published after the draw can check it is the one committed to
(``scripts/verify_ballot.py``). Until the draw the seed is kept encrypted with the data
key, like a NIK.
"""

from __future__ import annotations

import hashlib
import secrets

from funrun.events.models import Event
from funrun.people.crypto import data_cipher

#: Binds the seed's ciphertext to its column.
SEED_CONTEXT = b"ballot_seed"


def seed_hash(seed: str) -> str:
    """The published commitment to ``seed``: SHA-256 of its hexadecimal text."""
    return hashlib.sha256(seed.encode("ascii")).hexdigest()


def commit_seed(event: Event) -> None:
    """Give a ballot event a fresh secret seed and publish its hash (once: a seed
    committed to is never replaced, or the published hash would mean nothing)."""
    if event.ballot_seed_sha256 is not None:
        return
    seed = secrets.token_hex(32)
    event.ballot_seed_encrypted = data_cipher().encrypt(seed, context=SEED_CONTEXT)
    event.ballot_seed_sha256 = seed_hash(seed)


def secret_seed(event: Event) -> str:
    """The seed kept for the draw (only the draw reads it)."""
    if event.ballot_seed_encrypted is None:
        raise ValueError("this event has no ballot seed")
    return data_cipher().decrypt(event.ballot_seed_encrypted, context=SEED_CONTEXT)
