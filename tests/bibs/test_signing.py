"""Signed bib payloads: round trip, no near miss verifies, rotation, offline JWKS, typed bibs.

The verdicts are what a scanner at the race-pack desk acts on: VALID, MALFORMED (not a
bib payload), FORGED (bib-shaped, but no accepted key signed it) and WRONG_EVENT
(genuine, for another event). The payload must stay short ASCII in the QR alphanumeric
set so the printed code stays small.
"""

from __future__ import annotations

import base64
import hashlib
import json
import string

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from config import TestingConfig
from funrun import create_app
from funrun.bibs.qr import dark_runs
from funrun.bibs.services import parse_typed_bib
from funrun.bibs.signing import (
    MAX_PAYLOAD,
    BibSigner,
    Verdict,
    key_id,
    signer_from_config,
    verify_payload,
)
from funrun.events.models import Event
from tests.conftest import person_payload

QR_ALPHANUMERIC = set(string.digits + string.ascii_uppercase + " $%*+-./:")
#: Characters edits are drawn from: the payload's own alphabet and its near misses.
NEAR_MISSES = "".join(sorted(QR_ALPHANUMERIC)) + string.ascii_lowercase + "=_01\n\t\u00c9\uff21"
NOT_VALID = {Verdict.MALFORMED, Verdict.FORGED}
EVENTS = st.integers(min_value=1, max_value=9999)
BIBS = st.integers(min_value=0, max_value=99999)  # Event.bib_last <= 99999


def fixed_key(label: str) -> SigningKey:
    """A repeatable private key (tests must not depend on luck)."""
    return SigningKey(hashlib.sha256(label.encode()).digest())


SIGNER = BibSigner(fixed_key("funrun test key A"))
OTHER_KEY = fixed_key("funrun test key B")
OTHER = BibSigner(OTHER_KEY)


def raw_public(key: SigningKey) -> bytes:
    return bytes(key.verify_key)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def seed_text(key: SigningKey) -> str:
    """The base64url seed form FUNRUN_SIGNING_KEY takes."""
    return b64url(bytes(key))


def test_fixed_keys_have_distinct_key_ids():
    # Every "another key" test below relies on the keys being told apart by their id.
    assert SIGNER.current_kid != OTHER.current_kid
    assert key_id(OTHER_KEY.verify_key) == OTHER.current_kid


# --- round trip and shape --------------------------------------------------------------


def test_sign_then_verify_round_trip():
    payload = SIGNER.sign(7, 42)
    assert payload.startswith(f"FR1{SIGNER.current_kid}:7:42:")
    for scanned_at in (7, None):
        result = SIGNER.verify(payload, scanned_at)
        assert (result.verdict, result.event_id, result.bib_number) == (Verdict.VALID, 7, 42)
    # Ed25519 is deterministic: the same bib always prints the same code.
    assert SIGNER.sign(7, 42) == payload
    assert SIGNER.sign(7, 43) != payload


@settings(max_examples=300, deadline=None)
@given(event_id=EVENTS, bib=BIBS)
@example(event_id=9999, bib=99999)  # the longest payload
@example(event_id=1, bib=0)
def test_payload_is_short_qr_alphanumeric_ascii_and_verifies(event_id, bib):
    payload = SIGNER.sign(event_id, bib)
    assert len(payload) <= MAX_PAYLOAD == 120
    assert payload.isascii()
    assert set(payload) <= QR_ALPHANUMERIC, set(payload) - QR_ALPHANUMERIC
    result = verify_payload(payload, SIGNER.keys, event_id)
    assert (result.verdict, result.event_id, result.bib_number) == (Verdict.VALID, event_id, bib)


def test_longest_payload_fits_a_version_5_code():
    """120 characters in alphanumeric mode fit version 5 at level M (byte mode needs 7)."""
    payload = SIGNER.sign(9999, 99999)
    assert len(payload) == 120
    size, _runs = dark_runs(payload)
    assert (size - 17) // 4 == 5


def test_signing_refuses_rather_than_exceed_120_characters():
    # Ten digits of event and bib together would make 121 characters.
    with pytest.raises(ValueError, match="120"):
        SIGNER.sign(10000, 99999)


# --- nothing but the exact payload verifies ---------------------------------------------


def _single_edits(payload: str):
    """Every substitution, insertion and deletion over NEAR_MISSES, and every case flip."""
    for i, original in enumerate(payload):
        yield payload[:i] + payload[i + 1 :]
        for char in NEAR_MISSES:
            if char != original:
                yield payload[:i] + char + payload[i + 1 :]
        if original.swapcase() != original:
            yield payload[:i] + original.swapcase() + payload[i + 1 :]
    for i in range(len(payload) + 1):
        for char in NEAR_MISSES:
            yield payload[:i] + char + payload[i:]


def test_no_single_character_edit_of_a_payload_verifies_exhaustive():
    payload = SIGNER.sign(12, 3456)
    verdicts: dict[Verdict, int] = {}
    edits = 0
    for edited in set(_single_edits(payload)) - {payload}:
        edits += 1
        for scanned_at in (12, None):
            verdict = SIGNER.verify(edited, scanned_at).verdict
            assert verdict in NOT_VALID, (edited, verdict)
            verdicts[verdict] = verdicts.get(verdict, 0) + 1
    assert edits > 15000
    # Both kinds occur: shape-breaking edits and well-formed ones with a bad signature
    # (a digit of the event or bib, a signature character, the key id).
    assert verdicts[Verdict.MALFORMED] > 0 and verdicts[Verdict.FORGED] > 0


def test_last_signature_character_has_no_spare_bits_to_play_with():
    """103 base32 characters carry 515 bits for a 512-bit signature: only one spelling."""
    payload = SIGNER.sign(5, 5)
    for char in string.ascii_uppercase + "234567":
        if char != payload[-1]:
            assert SIGNER.verify(payload[:-1] + char, 5).verdict == Verdict.FORGED


@st.composite
def edited_payloads(draw):
    """A genuine payload and a single-character edit of it."""
    event_id, bib = draw(EVENTS), draw(BIBS)
    payload = SIGNER.sign(event_id, bib)
    kind = draw(st.sampled_from(["substitute", "insert", "delete", "case", "lower_all"]))
    char = draw(st.one_of(st.sampled_from(NEAR_MISSES), st.characters()))
    if kind == "lower_all":
        edited = payload.lower()
    elif kind == "insert":
        i = draw(st.integers(0, len(payload)))
        edited = payload[:i] + char + payload[i:]
    else:
        i = draw(st.integers(0, len(payload) - 1))
        if kind == "delete":
            edited = payload[:i] + payload[i + 1 :]
        elif kind == "case":
            letters = [j for j, c in enumerate(payload) if c.isalpha()]
            i = draw(st.sampled_from(letters))
            edited = payload[:i] + payload[i].swapcase() + payload[i + 1 :]
        else:
            edited = payload[:i] + char + payload[i + 1 :]
    return event_id, payload, edited


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=edited_payloads())
def test_no_single_character_edit_verifies_property(case):
    event_id, payload, edited = case
    if edited == payload:  # substituting a character by itself is no edit
        return
    for scanned_at in (event_id, event_id + 1, None):
        assert verify_payload(edited, SIGNER.keys, scanned_at).verdict in NOT_VALID


def test_malformed_inputs():
    for junk in ("", "FR1", "hello", "https://example.com/", "A" * 121, "FR1" + "A" * 117):
        assert SIGNER.verify(junk).verdict == Verdict.MALFORMED, junk
    good = SIGNER.sign(3, 9)
    assert SIGNER.verify(good + " ").verdict == Verdict.MALFORMED
    assert SIGNER.verify(good.replace(":3:", ":03:")).verdict == Verdict.MALFORMED
    assert SIGNER.verify(good.replace("FR1", "FR2", 1)).verdict == Verdict.MALFORMED
    assert SIGNER.verify(None).verdict == Verdict.MALFORMED  # type: ignore[arg-type]
    assert SIGNER.verify(good.encode()).verdict == Verdict.MALFORMED  # type: ignore[arg-type]


# --- other keys, other events ------------------------------------------------------------


def test_payload_signed_with_another_key_is_forged():
    theirs = OTHER.sign(7, 42)
    result = SIGNER.verify(theirs, 7)
    # Parsed, so the desk can say which bib the fake claims to be.
    assert (result.verdict, result.event_id, result.bib_number) == (Verdict.FORGED, 7, 42)
    assert OTHER.verify(theirs, 7).verdict == Verdict.VALID  # a real signature, wrong key


def test_another_key_cannot_sign_under_our_key_id():
    message = f"FR1{SIGNER.current_kid}:7:42"
    signature = base64.b32encode(OTHER_KEY.sign(message.encode()).signature).decode().rstrip("=")
    forged = f"{message}:{signature}"
    assert len(forged) == len(SIGNER.sign(7, 42))
    assert SIGNER.verify(forged, 7).verdict == Verdict.FORGED


def test_signature_moved_to_another_bib_is_forged():
    genuine = SIGNER.sign(7, 42)
    signature = genuine.rsplit(":", 1)[1]
    moved = f"FR1{SIGNER.current_kid}:7:43:{signature}"
    assert SIGNER.verify(moved, 7).verdict == Verdict.FORGED


@settings(max_examples=100, deadline=None)
@given(event_id=EVENTS, other_event=EVENTS, bib=BIBS)
def test_genuine_bib_of_another_event_is_wrong_event(event_id, other_event, bib):
    payload = SIGNER.sign(event_id, bib)
    result = SIGNER.verify(payload, other_event)
    expected = Verdict.VALID if other_event == event_id else Verdict.WRONG_EVENT
    assert (result.verdict, result.event_id, result.bib_number) == (expected, event_id, bib)


def test_real_bib_scanned_at_another_real_event_is_wrong_event(client, make_event):
    bandung, jakarta = make_event(bib_prefix="BDG"), make_event(bib_prefix="JKT")
    payloads = {}
    for event in (bandung, jakarta):
        response = client.post(f"/api/v1/events/{event.slug}/registrations", json=person_payload(0))
        assert response.status_code == 201
        payloads[event.id] = response.get_json()["registration"]["qr"]
    result = bib_signer_of(client).verify(payloads[bandung.id], jakarta.id)
    assert (result.verdict, result.event_id, result.bib_number) == (
        Verdict.WRONG_EVENT,
        bandung.id,
        1,
    )
    assert bib_signer_of(client).verify(payloads[jakarta.id], jakarta.id).verdict == Verdict.VALID


def bib_signer_of(client) -> BibSigner:
    return client.application.extensions["funrun_bib_signer"]


def test_forged_payload_for_another_event_is_forged_not_wrong_event():
    # A fake must never be reported as merely "another event's bib".
    assert SIGNER.verify(OTHER.sign(8, 1), 7).verdict == Verdict.FORGED


# --- key rotation through the app's configuration ----------------------------------------


def _app(**config):
    return create_app(TestingConfig, SQLALCHEMY_DATABASE_URI="sqlite://", **config)


def test_rotation_previous_key_verifies_while_accepted_and_not_after():
    old_key, new_key = fixed_key("rotation old"), fixed_key("rotation new")
    old_public = b64url(raw_public(old_key))

    before = _app(FUNRUN_SIGNING_KEY=seed_text(old_key))
    printed_before = before.extensions["funrun_bib_signer"].sign(3, 17)

    during = _app(
        FUNRUN_SIGNING_KEY=seed_text(new_key),
        FUNRUN_ACCEPTED_SIGNING_KEYS=f" {old_public} , ",  # spaces and a trailing comma
    )
    signer = during.extensions["funrun_bib_signer"]
    printed_after = signer.sign(3, 18)
    assert printed_after[3:5] != printed_before[3:5]  # a new key id on new bibs
    assert signer.verify(printed_before, 3).verdict == Verdict.VALID
    assert signer.verify(printed_after, 3).verdict == Verdict.VALID
    jwks = during.test_client().get("/api/v1/signing-key").get_json()
    assert {k["kid"] for k in jwks["keys"]} == {printed_before[3:5], printed_after[3:5]}
    assert offline_verify(printed_before, jwks) and offline_verify(printed_after, jwks)
    # Accepting an old key opens the door to that key only.
    assert signer.verify(OTHER.sign(3, 17), 3).verdict == Verdict.FORGED

    after = _app(FUNRUN_SIGNING_KEY=seed_text(new_key), FUNRUN_ACCEPTED_SIGNING_KEYS="")
    signer = after.extensions["funrun_bib_signer"]
    assert signer.verify(printed_before, 3).verdict == Verdict.FORGED
    assert signer.verify(printed_after, 3).verdict == Verdict.VALID
    jwks = after.test_client().get("/api/v1/signing-key").get_json()
    assert [k["kid"] for k in jwks["keys"]] == [printed_after[3:5]]
    assert not offline_verify(printed_before, jwks)


def test_accepted_keys_must_be_public_keys_of_32_bytes():
    with pytest.raises(ValueError):
        signer_from_config(
            {
                "FUNRUN_SIGNING_KEY": seed_text(fixed_key("x")),
                "FUNRUN_ACCEPTED_SIGNING_KEYS": b64url(b"too short"),
            }
        )


def test_signing_key_can_be_pem():
    key = fixed_key("pem")
    pem = (
        Ed25519PrivateKey.from_private_bytes(bytes(key))
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    from_pem = signer_from_config({"FUNRUN_SIGNING_KEY": pem})
    from_seed = signer_from_config({"FUNRUN_SIGNING_KEY": seed_text(key)})
    assert from_pem.sign(1, 2) == from_seed.sign(1, 2)


# --- the public key as JWKS: enough for an offline scanner -------------------------------


def offline_verify(payload: str, jwks: dict) -> bool:
    """What a scanner app does with nothing but the JWK set: no funrun code involved."""
    message, _, signature_text = payload.rpartition(":")
    kid = message[3:5]
    for jwk in jwks["keys"]:
        if jwk["kid"] != kid or (jwk["kty"], jwk["crv"], jwk["alg"]) != ("OKP", "Ed25519", "EdDSA"):
            continue
        x = jwk["x"]
        key = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(x + "=" * (-len(x) % 4)))
        signature = base64.b32decode(signature_text + "=" * (-len(signature_text) % 8))
        try:
            key.verify(signature, message.encode())
        except InvalidSignature:
            return False
        return True
    return False


def test_jwks_lets_an_offline_scanner_verify_a_real_bib(client, make_event):
    event = make_event(bib_prefix="JKT")
    response = client.post(f"/api/v1/events/{event.slug}/registrations", json=person_payload(0))
    assert response.status_code == 201
    payload = response.get_json()["registration"]["qr"]

    keys = client.get("/api/v1/signing-key")
    assert keys.status_code == 200
    assert keys.mimetype == "application/json"
    assert "public" in keys.headers["Cache-Control"]
    jwks = json.loads(keys.get_data(as_text=True))  # as a phone would parse it
    (jwk,) = jwks["keys"]
    assert set(jwk) == {"kty", "crv", "x", "kid", "use", "alg"}
    assert (jwk["kty"], jwk["crv"], jwk["use"], jwk["alg"]) == ("OKP", "Ed25519", "sig", "EdDSA")
    assert len(jwk["x"]) == 43 and "=" not in jwk["x"]  # RFC 8037: unpadded base64url
    assert "d" not in jwk  # never the private part

    assert offline_verify(payload, jwks)
    assert jwk["kid"] == payload[3:5]
    # The offline check fails on a changed bib or a foreign signature, as it must.
    digits = payload.split(":")
    changed = ":".join([digits[0], digits[1], str(int(digits[2]) + 1), digits[3]])
    assert not offline_verify(changed, jwks)
    assert not offline_verify(OTHER.sign(event.id, 1), jwks)


# --- bib numbers as volunteers type them -------------------------------------------------


def jakarta() -> Event:
    """An event as parse_typed_bib sees it (only its prefix matters)."""
    return Event(bib_prefix="JKT")


@pytest.mark.parametrize(
    ("typed", "number"),
    [
        ("42", 42),
        ("0042", 42),
        ("JKT0042", 42),
        ("jkt-0042", 42),
        ("JKT 0042", 42),
        ("  Jkt 42 ", 42),
        ("jkt.0042", 42),
        ("JKT_0042", 42),
        ("00000042", 42),
        ("1", 1),
        ("0", 0),
        ("JKT 12345", 12345),
        ("99999", 99999),
    ],
)
def test_parse_typed_bib_accepts_what_volunteers_type(typed, number):
    assert parse_typed_bib(typed, jakarta()) == number


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "   ",
        "JKT",
        "JKT-",
        "BDG0042",  # another event's prefix
        "JK0042",
        "JKTT0042",
        "XJKT0042",
        "0042JKT",
        "42a",
        "4 2",
        "123456",  # more digits than any bib has
        "+42",
        "4.2e1",
        "abc",
        "DROP TABLE registrations",
        "FR1AB:1:42:XYZ",  # a QR payload is not a typed bib
    ],
)
def test_parse_typed_bib_rejects_garbage_and_other_prefixes(typed):
    assert parse_typed_bib(typed, jakarta()) is None


@settings(max_examples=200, deadline=None)
@given(number=BIBS)
def test_every_shown_bib_parses_back(number):
    event = jakarta()
    shown = event.format_bib(number)
    assert shown.startswith("JKT ")
    assert parse_typed_bib(shown, event) == number
    assert parse_typed_bib(shown.lower().replace(" ", "-"), event) == number
    assert parse_typed_bib(str(number), event) == number


def test_shown_bib_has_prefix_and_four_digits():
    assert jakarta().format_bib(42) == "JKT 0042"
    assert Event(bib_prefix="BDG").format_bib(7) == "BDG 0007"
