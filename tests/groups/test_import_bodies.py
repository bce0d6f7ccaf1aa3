"""A group import's body read in pieces: the JSON and CSV readers whatever the pieces'
boundaries, and the encrypted file store (segments bound to their file and place)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

import pytest
from flask import Flask

from funrun.groups import bodies


def pieces(text: str, size: int) -> Iterator[str]:
    for start in range(0, len(text), size):
        yield text[start : start + size]


MEMBERS = [
    {"full_name": "Budi Santoso", "nik": "3174010101800001", "member": False, "n": 12345},
    {"full_name": 'Siti "Ani" \\ Rahmawati \u00e9', "nik": "3174014101800002", "n": -1.5e3},
    {"full_name": "Nested", "extra": {"a": [1, 2, {"b": None}]}, "n": 0},
]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 100_000])
def test_json_members_whatever_the_pieces(size: int):
    text = json.dumps({"note": [1, "x"], "members": MEMBERS, "import_key": "k-1"}, indent=1)
    entries = list(bodies.json_entries(pieces(text, size)))
    assert entries == [
        ("note", [1, "x"]),
        *(("members", m) for m in MEMBERS),
        ("import_key", "k-1"),
    ]
    assert list(bodies.json_members(pieces(text, size))) == MEMBERS


@pytest.mark.parametrize(
    "text",
    ['{"members": [1,]}', '{"members": [1 2]}', '{"a": 1,}', '{"a" 1}', "{", '{"a": 1} {}', ""],
)
def test_broken_json_is_refused(text: str):
    with pytest.raises(bodies.BodyError) as refused:
        list(bodies.json_entries(pieces(text, 3)))
    assert refused.value.status == 400


@pytest.mark.parametrize("size", [1, 5, 4096])
def test_csv_rows_whatever_the_pieces(size: int):
    text = (
        "full_name,nik,birth_date,gender,phone,shirt_size,member\r\n"
        '"Santoso, Budi",3174010101800001,1980-01-01,M,0812,M,false\r\n'
        '"Siti\nRahmawati",3174014101800002,1980-01-01,F,"08""1",S,no\r\n'
        "\r\n"
        "Last,3174,,,0813,,"
    )
    header, rows = bodies.csv_rows(pieces(text, size))
    assert header == ["full_name", "nik", "birth_date", "gender", "phone", "shirt_size", "member"]
    got = list(rows)
    assert [(r["full_name"], r["phone"], r["member"]) for r in got] == [
        ("Santoso, Budi", "0812", "false"),
        ("Siti\nRahmawati", '08"1', "no"),
        ("Last", "0813", ""),
    ]


def test_the_stored_body_is_encrypted_and_read_back_whole(
    app: Flask, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(bodies, "SEGMENT", 50)
    text = "".join(random.Random(1).choice('abcé\u4e2d,\n"') for _ in range(1234))
    writer = bodies.SealedWriter()
    for piece in pieces(text, 17):
        writer.write(piece)
    writer.close()
    raw = bodies.stored_path(writer.name).read_bytes()
    # No 16 bytes of the text anywhere in the file (two or three bytes, such as "é",
    # turn up in random ciphertext by chance now and then).
    plain = text.encode()
    assert not any(plain[at : at + 16] in raw for at in range(0, len(plain) - 16, 8))
    assert "".join(bodies.read_sealed(writer.name)) == text
    assert len(list(bodies.read_sealed(writer.name))) >= 1234 // 50


def test_a_stored_body_cut_short_or_moved_does_not_decrypt(app: Flask):
    writer = bodies.SealedWriter()
    writer.write("x" * (3 * bodies.SEGMENT))
    writer.close()
    path = bodies.stored_path(writer.name)
    whole = path.read_bytes()
    first = 4 + int.from_bytes(whole[:4], "big")
    path.write_bytes(whole[:first])  # only the first segment: it was not the last
    with pytest.raises(Exception):  # noqa: B017 - the cipher's InvalidTag
        list(bodies.read_sealed(writer.name))
    other = bodies.SealedWriter()
    other.close()
    bodies.stored_path(other.name).write_bytes(whole)  # another file's segments
    with pytest.raises(Exception):  # noqa: B017
        list(bodies.read_sealed(other.name))
    for name in (writer.name, other.name):
        bodies.stored_path(name).unlink()


def test_stored_names_come_from_the_store_only():
    for name in ("../etc/passwd", "group-imports/../../x", "print-jobs/1.pdf"):
        with pytest.raises(ValueError):
            bodies.stored_path(name)
