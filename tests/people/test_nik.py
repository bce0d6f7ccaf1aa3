"""The NIK checks, masking, and the cipher that keeps NIKs encrypted and findable."""

from __future__ import annotations

import base64
from datetime import date
from functools import partial

import pytest
from hypothesis import given
from hypothesis import strategies as st

from funrun.people.crypto import DataCipher, Forged, aes_gcm, hkdf_sha256, mask_nik
from funrun.people.nik import check_nik, normalise_nik
from tests.conftest import make_nik

# Outside an app context the messages are the English source strings.
NOT_16 = "NIK must be exactly 16 digits."
BAD_DATE = "The NIK does not contain a valid birth date."
ZERO_SERIAL = "The NIK's serial number cannot be 0000."
DATE_MISMATCH = "The birth date in the NIK does not match the birth date you gave."
GENDER_MISMATCH = "The NIK does not match the gender you gave (women add 40 to the day)."
UNKNOWN_REGION = "The NIK's region code is not one we know."


def other_digits(ascii_digits: str, zero: int) -> str:
    """``ascii_digits`` written with the digits of the script whose zero is at ``zero``."""
    return "".join(chr(zero + int(d)) for d in ascii_digits)


KEY = base64.urlsafe_b64encode(b"k" * 32).decode()
OTHER_KEY = base64.urlsafe_b64encode(b"o" * 32).decode()


# --- check_nik -------------------------------------------------------------------------


def test_valid_male_nik():
    result = check_nik("3174011708850001", date(1985, 8, 17), "M")
    assert result.errors == []
    assert result.warnings == []


def test_valid_female_nik_adds_40_to_the_day():
    result = check_nik("3174015708850001", date(1985, 8, 17), "F")
    assert result.errors == []
    assert result.warnings == []


@pytest.mark.parametrize(("day", "encoded"), [(1, "41"), (31, "71")])
def test_female_day_range(day, encoded):
    nik = f"317401{encoded}0385" + "0001"
    assert check_nik(nik, date(1985, 3, day), "F").errors == []


@pytest.mark.parametrize(
    "birth",
    [
        date(1985, 8, 18),  # day
        date(1985, 9, 17),  # month
        date(1986, 8, 17),  # two-digit year
        date(1995, 8, 17),
    ],
)
def test_birth_date_mismatch(birth):
    assert check_nik("3174011708850001", birth, "M").errors == [DATE_MISMATCH]


def test_people_born_from_2000_use_two_digit_year():
    nik = make_nik(date(2005, 3, 9), "M")
    assert nik[6:12] == "090305"
    assert check_nik(nik, date(2005, 3, 9), "M").errors == []
    assert check_nik(nik, date(2006, 3, 9), "M").errors == [DATE_MISMATCH]
    assert check_nik(nik, date(2005, 3, 19), "M").errors == [DATE_MISMATCH]


def test_year_2000_encodes_as_00():
    nik = make_nik(date(2000, 2, 29), "F")
    assert nik[6:12] == "690200"
    assert check_nik(nik, date(2000, 2, 29), "F").errors == []


@pytest.mark.parametrize(
    ("nik", "gender"),
    [("3174011708850001", "F"), ("3174015708850001", "M")],
)
def test_gender_mismatch(nik, gender):
    assert check_nik(nik, date(1985, 8, 17), gender).errors == [GENDER_MISMATCH]


def test_no_gender_or_birth_date_given_checks_only_the_nik_itself():
    assert check_nik("3174015708850001", None, None).errors == []
    assert check_nik("3174015708850001", None, "X").errors == []


@pytest.mark.parametrize(
    "nik",
    [
        "",
        "317401170885001",  # 15 digits
        "31740117088500011",  # 17 digits
        "31740117088500A1",  # a letter
        "abcdefghijklmnop",
        "3174 0117 0885 0001",  # not normalised
        # Other scripts' digits would be a second spelling (and hash) of the same NIK.
        other_digits("3174011708850001", 0xFF10),  # fullwidth
        other_digits("3174011708850001", 0x0660),  # Arabic-Indic
    ],
)
def test_not_16_ascii_digits(nik):
    result = check_nik(nik, date(1985, 8, 17), "M")
    assert result.errors == [NOT_16]


def test_serial_0000_is_rejected():
    result = check_nik("3174011708850000", date(1985, 8, 17), "M")
    assert result.errors == [ZERO_SERIAL]


@pytest.mark.parametrize(
    "date_part",
    [
        "310285",  # 31 February
        "300285",  # 30 February
        "290201",  # 29 February in 1901 and in 2001
        "710285",  # a woman's 31 February
        "311185",  # 31 November
        "171385",  # month 13
        "170085",  # month 0
        "000885",  # day 0
        "320885",  # day 32
        "400885",  # a woman's day 0
        "720885",  # a woman's day 32
    ],
)
def test_impossible_birth_date(date_part):
    nik = f"317401{date_part}0001"
    assert check_nik(nik, None, None).errors == [BAD_DATE]
    assert BAD_DATE in check_nik(nik, date(1985, 8, 17), "M").errors


def test_29_february_of_a_leap_year_is_valid():
    assert check_nik("3174012902880001", date(1988, 2, 29), "M").errors == []
    # 00 can be 2000 (leap), so the NIK alone is a real date.
    assert check_nik("3174012902000001", None, None).errors == []


def test_unknown_province_code_is_only_a_warning():
    result = check_nik("9974011708850001", date(1985, 8, 17), "M")
    assert result.errors == []
    assert result.warnings == [UNKNOWN_REGION]


@pytest.mark.parametrize("province", ["11", "31", "36", "82", "94", "96"])
def test_known_province_codes_give_no_warning(province):
    assert check_nik(f"{province}74011708850001", date(1985, 8, 17), "M").warnings == []


def test_normalise_nik_drops_separators_only():
    assert normalise_nik(" 3174.0117-0885 0001 ") == "3174011708850001"
    assert normalise_nik("3174x01") == "3174x01"


@given(
    birth=st.dates(min_value=date(1920, 1, 1), max_value=date(2010, 12, 31)),
    gender=st.sampled_from(["M", "F"]),
    serial=st.integers(min_value=1, max_value=9999),
)
def test_any_real_birth_date_and_gender_make_a_valid_nik(birth, gender, serial):
    nik = make_nik(birth, gender, serial=serial)
    assert check_nik(nik, birth, gender).errors == []
    flipped = "F" if gender == "M" else "M"
    assert check_nik(nik, birth, flipped).errors == [GENDER_MISMATCH]


# --- masking and the cipher ------------------------------------------------------------


def test_mask_nik_keeps_region_and_last_two_digits():
    masked = mask_nik("3174011708850001")
    assert masked == "3174**********01"
    assert len(masked) == 16
    assert "170885" not in masked


def test_cipher_round_trip():
    cipher = DataCipher(KEY)
    blob = cipher.encrypt("3174011708850001")
    assert isinstance(blob, bytes)
    assert b"3174011708850001" not in blob
    assert cipher.decrypt(blob) == "3174011708850001"


def test_ciphertext_differs_each_time():
    cipher = DataCipher(KEY)
    first, second = cipher.encrypt("3174011708850001"), cipher.encrypt("3174011708850001")
    assert first != second
    assert cipher.decrypt(first) == cipher.decrypt(second) == "3174011708850001"


@pytest.mark.parametrize("position", [1, 13, -1])
def test_tampered_ciphertext_raises(position):
    cipher = DataCipher(KEY)
    blob = bytearray(cipher.encrypt("3174011708850001"))
    blob[position] ^= 0x01
    with pytest.raises(Forged):
        cipher.decrypt(bytes(blob))


@pytest.mark.parametrize("hardware", [True, False])
@pytest.mark.parametrize("length", [1, 4, 13, 28])
def test_a_truncated_ciphertext_is_forged_on_either_engine(monkeypatch, hardware, length):
    from funrun.people import crypto

    monkeypatch.setattr(crypto, "aes_gcm", partial(crypto.aes_gcm, hardware=hardware))
    cipher = DataCipher(KEY)
    with pytest.raises(Forged):
        cipher.decrypt(cipher.encrypt("3174011708850001")[:length])


def test_ciphertext_is_bound_to_its_key_format_and_context():
    cipher = DataCipher(KEY)
    blob = cipher.encrypt("3174011708850001")
    with pytest.raises(Forged):
        DataCipher(OTHER_KEY).decrypt(blob)
    with pytest.raises(Forged):
        cipher.decrypt(blob, context=b"kpj")
    with pytest.raises(ValueError, match="format"):
        cipher.decrypt(b"\x02" + blob[1:])


@pytest.mark.parametrize(
    ("ikm", "salt", "info", "length", "okm"),
    [
        # RFC 5869, appendix A: test cases 1 and 3 (SHA-256).
        (
            "0b" * 22,
            "000102030405060708090a0b0c",
            "f0f1f2f3f4f5f6f7f8f9",
            42,
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
        ),
        (
            "0b" * 22,
            "",
            "",
            42,
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
        ),
    ],
)
def test_hkdf_gives_the_rfc_5869_keys(ikm, salt, info, length, okm):
    derived = hkdf_sha256(bytes.fromhex(ikm), bytes.fromhex(info), length, bytes.fromhex(salt))
    assert derived.hex() == okm


@given(st.binary(min_size=32, max_size=64), st.binary(max_size=40), st.integers(1, 96))
def test_hkdf_derives_what_cryptography_derived(master, info, length):
    # The keys of data written before libsodium took over are derived the same way.
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    theirs = HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(master)
    assert hkdf_sha256(master, info, length) == theirs


def test_ciphertexts_read_and_written_as_cryptography_did():
    """A NIK stored by the earlier cipher (cryptography's AESGCM, the same key derivation)
    still decrypts, and what is written now decrypts with cryptography."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    master = base64.urlsafe_b64decode(KEY)
    theirs = AESGCM(hkdf_sha256(master, b"funrun/nik/encrypt"))
    nonce = bytes(range(12))
    stored = b"\x01" + nonce + theirs.encrypt(nonce, b"3174011708850001", b"nik")
    cipher = DataCipher(KEY)
    assert cipher.decrypt(stored) == "3174011708850001"
    ours = cipher.encrypt("3205124412990002", context=b"kpj")
    assert theirs.decrypt(ours[1:13], ours[13:], b"kpj") == b"3205124412990002"
    with pytest.raises(Forged):
        cipher.decrypt(stored, context=b"kpj")


@given(st.binary(max_size=300), st.binary(max_size=20))
def test_both_aes_gcm_engines_write_the_same_bytes(plaintext, aad):
    """libsodium's (CPUs with AES instructions) and cryptography's (the rest) are one
    cipher: the same ciphertext, each reads the other's, both refuse a changed byte."""
    key, nonce = bytes(range(32)), bytes(range(100, 112))
    sodium_encrypt, sodium_decrypt = aes_gcm(key, hardware=True)
    other_encrypt, other_decrypt = aes_gcm(key, hardware=False)
    blob = sodium_encrypt(nonce, plaintext, aad)
    assert blob == other_encrypt(nonce, plaintext, aad)
    assert sodium_decrypt(nonce, blob, aad) == other_decrypt(nonce, blob, aad) == plaintext
    changed = bytes([blob[0] ^ 0x80]) + blob[1:]
    for decrypt in (sodium_decrypt, other_decrypt):
        with pytest.raises(Forged):
            decrypt(nonce, changed, aad)
        with pytest.raises(Forged):
            decrypt(nonce, blob[:10], aad)


def test_lookup_hash_is_stable_and_keyed():
    cipher = DataCipher(KEY)
    digest = cipher.lookup_hash("3174011708850001")
    assert digest == DataCipher(KEY).lookup_hash("3174011708850001")
    assert len(digest) == 64
    assert "3174011708850001" not in digest
    assert cipher.lookup_hash("3174011708850002") != digest
    assert DataCipher(OTHER_KEY).lookup_hash("3174011708850001") != digest


@pytest.mark.parametrize("key", ["not base64!!", base64.urlsafe_b64encode(b"short").decode()])
def test_cipher_refuses_bad_keys(key):
    with pytest.raises(ValueError, match="FUNRUN_DATA_KEY"):
        DataCipher(key)
