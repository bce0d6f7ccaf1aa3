"""A group import's body: read as it arrives, kept encrypted, read back row by row.

Nothing here holds a whole body: the upload is read in pieces, each piece hashed, decoded
(UTF-8, strictly) and encrypted into the file store as it goes, while the members are
counted from the same pieces; the worker decrypts it piece by piece and gets one member
at a time (:func:`members`). So a web worker and the worker stay at the same size for
ten members or 100,000.

The stored file is a sequence of segments, each ``length (4 bytes) + ciphertext`` of at
most :data:`SEGMENT` characters, encrypted with the data cipher and bound to the file's
name, its position and whether it is the last one (a file cut short does not decrypt).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import struct
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from flask_babel import lazy_gettext as _l

from funrun.jobs import files
from funrun.people.crypto import data_cipher
from funrun.registration.schemas import MemberRequest

#: The most members one import may carry, and the largest body (a CSV of 100,000
#: members is about 15 MB, the same as JSON about 30 MB).
MAX_ROWS = 100_000
MAX_BODY = 48 * 1024 * 1024
#: The largest member (a JSON object or a CSV line) and any other top-level JSON value.
MAX_MEMBER = 8 * 1024
#: Characters per encrypted segment, and bytes read from the request at a time.
SEGMENT = 256 * 1024
READ = 64 * 1024
FOLDER = "group-imports"
#: The CSV columns (the registration body's fields; consent is the member's own).
COLUMNS = tuple(MemberRequest.model_fields)
REQUIRED_COLUMNS = tuple(
    name for name, info in MemberRequest.model_fields.items() if info.is_required()
)
_LENGTH = struct.Struct(">I")


class BodyError(Exception):
    """The body cannot be read as an import: ``status`` and a message for the caller."""

    def __init__(self, status: int, message: Any) -> None:
        super().__init__(str(message))
        self.status = status
        self.message = message


def _context(name: str, index: int, last: bool) -> bytes:
    return f"group-import:{name}:{index}:{'end' if last else 'more'}".encode()


class SealedWriter:
    """Writes text into an encrypted file of the store, one segment at a time."""

    def __init__(self) -> None:
        self.name = f"{FOLDER}/{uuid.uuid4().hex}.bin"
        self.path = files.files_dir() / self.name
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._out: BinaryIO = open(self.path, "wb")  # noqa: SIM115 - closed by close()
        self._pending: list[str] = []
        self._size = 0
        self._index = 0

    def write(self, text: str) -> None:
        """Add ``text``; a full segment is encrypted and written."""
        self._pending.append(text)
        self._size += len(text)
        if self._size >= 2 * SEGMENT:
            joined = "".join(self._pending)
            self._seal(joined[:SEGMENT], last=False)
            self._pending, self._size = [joined[SEGMENT:]], len(joined) - SEGMENT

    def _seal(self, text: str, *, last: bool) -> None:
        blob = data_cipher().encrypt(text, context=_context(self.name, self._index, last))
        self._out.write(_LENGTH.pack(len(blob)) + blob)
        self._index += 1

    def close(self) -> None:
        """Write the last segment and close the file."""
        joined = "".join(self._pending)
        while len(joined) > SEGMENT:
            self._seal(joined[:SEGMENT], last=False)
            joined = joined[SEGMENT:]
        self._seal(joined, last=True)
        self._out.close()

    def discard(self) -> None:
        """Close and delete the file (the body was refused or already imported)."""
        if not self._out.closed:
            self._out.close()
        files.delete(self.path)


def stored_path(name: str) -> Path:
    """The file of a stored body, by the name :class:`SealedWriter` gave it."""
    if not name.startswith(FOLDER + "/") or ".." in name:
        raise ValueError("not a stored import body")
    return files.files_dir() / name


def read_sealed(name: str) -> Iterator[str]:
    """The text of a stored body, segment by segment."""
    cipher = data_cipher()
    with open(stored_path(name), "rb") as source:
        index, last = 0, False
        while not last:
            head = source.read(_LENGTH.size)
            if len(head) != _LENGTH.size:
                raise ValueError("stored import body cut short")
            blob = source.read(_LENGTH.unpack(head)[0])
            following = source.peek(1) if hasattr(source, "peek") else b""
            last = not following
            yield cipher.decrypt(blob, context=_context(name, index, last))
            index += 1


class Upload:
    """The request body read in pieces: hashed, size-checked, decoded and stored."""

    def __init__(self, stream: BinaryIO, writer: SealedWriter) -> None:
        self.stream = stream
        self.writer = writer
        self.sha256 = hashlib.sha256()
        self.size = 0

    def text(self) -> Iterator[str]:
        """The body's text, piece by piece (a leading byte order mark dropped)."""
        decoder = codecs.getincrementaldecoder("utf-8")("strict")
        first = True
        while True:
            piece = self.stream.read(READ)
            final = not piece
            self.size += len(piece)
            if self.size > MAX_BODY:
                raise BodyError(413, _l("The body is larger than %(n)d MiB.", n=MAX_BODY >> 20))
            self.sha256.update(piece)
            try:
                text = decoder.decode(piece, final=final)
            except UnicodeDecodeError:
                raise BodyError(400, _l("The body must be UTF-8 text.")) from None
            if first and text:
                text, first = text.removeprefix("\ufeff"), False
            if text:
                if "\x00" in text:
                    raise BodyError(400, _l("The body must not contain NUL characters."))
                self.writer.write(text)
                yield text
            if final:
                return


# --- CSV -------------------------------------------------------------------------------


def _lines(chunks: Iterable[str]) -> Iterator[str]:
    """Lines (ends kept) from pieces of text, each at most :data:`MAX_MEMBER` long."""
    rest = ""
    for chunk in chunks:
        rest += chunk
        start = 0
        while (end := rest.find("\n", start)) >= 0:
            if end - start >= MAX_MEMBER:
                raise BodyError(400, _l("A line of the CSV is too long."))
            yield rest[start : end + 1]
            start = end + 1
        rest = rest[start:]
        if len(rest) > MAX_MEMBER:
            raise BodyError(400, _l("A line of the CSV is too long."))
    if rest:
        yield rest


def csv_rows(chunks: Iterable[str]) -> tuple[list[str], Iterator[dict[str, str]]]:
    """The CSV's header (checked) and its rows as ``{column: cell}``, lazily."""
    reader = csv.reader(_lines(chunks), strict=True)
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise BodyError(
            422, _l("The CSV is empty: a header line and members are needed.")
        ) from None
    except csv.Error:
        raise BodyError(400, _l("This is not a readable CSV file.")) from None
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        raise BodyError(
            422, _l("Unknown columns: %(names)s.", names=", ".join(n[:40] for n in unknown[:10]))
        )
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing or len(set(header)) != len(header):
        raise BodyError(
            422,
            _l(
                "The header must name each of these columns once: %(names)s.",
                names=", ".join(missing or REQUIRED_COLUMNS),
            ),
        )

    def rows() -> Iterator[dict[str, str]]:
        try:
            for cells in reader:
                if not any(cell.strip() for cell in cells):
                    continue  # a blank line
                yield dict(zip(header, cells, strict=False))
        except csv.Error:
            raise BodyError(400, _l("This is not a readable CSV file.")) from None

    return header, rows()


# --- JSON ------------------------------------------------------------------------------

_DECODER = json.JSONDecoder()
_SPACE = " \t\n\r"


class _JsonStream:
    """A JSON text read from pieces: values taken one at a time off the front."""

    def __init__(self, chunks: Iterable[str]) -> None:
        self._chunks = iter(chunks)
        self._buffer = ""
        self._at = 0
        self._ended = False

    def _more(self) -> bool:
        for chunk in self._chunks:
            self._buffer = self._buffer[self._at :] + chunk
            self._at = 0
            return True
        self._ended = True
        return False

    def peek(self) -> str:
        """The next character that is not white space ("" at the end)."""
        while True:
            while self._at < len(self._buffer) and self._buffer[self._at] in _SPACE:
                self._at += 1
            if self._at < len(self._buffer) or not self._more():
                return self._buffer[self._at : self._at + 1]

    def expect(self, char: str) -> None:
        """Take ``char`` (after white space), or refuse the body."""
        if self.peek() != char:
            raise _malformed()
        self._at += 1

    def value(self) -> Any:
        """The next JSON value (at most :data:`MAX_MEMBER` characters)."""
        self.peek()
        while True:
            try:
                found, end = _DECODER.raw_decode(self._buffer, self._at)
            except json.JSONDecodeError:
                found, end = None, -1
            # A value ending exactly at the buffer's end may go on (a number cut in two).
            if end - self._at > MAX_MEMBER:
                raise BodyError(400, _l("A member of the body is too long."))
            if end != -1 and (end < len(self._buffer) or self._ended):
                self._at = end
                return found
            if len(self._buffer) - self._at > MAX_MEMBER:
                raise BodyError(400, _l("A member of the body is too long."))
            if not self._more():
                if end != -1:
                    self._at = end
                    return found
                raise _malformed()


def _malformed() -> BodyError:
    return BodyError(400, _l("The body is not valid JSON."))


def json_entries(chunks: Iterable[str]) -> Iterator[tuple[str, Any]]:
    """The top-level object's entries in order: ``("members", member)`` for each member
    of its ``members`` list, ``(key, value)`` for anything else."""
    stream = _JsonStream(chunks)
    if stream.peek() != "{":
        raise BodyError(400, _l("The body must be a JSON object."))
    stream.expect("{")
    seen: set[str] = set()
    if stream.peek() == "}":
        stream.expect("}")
    else:
        while True:
            key = stream.value()
            if not isinstance(key, str) or key in seen:
                raise _malformed()
            seen.add(key)
            stream.expect(":")
            if key == "members" and stream.peek() == "[":
                stream.expect("[")
                if stream.peek() == "]":
                    stream.expect("]")
                else:
                    while True:
                        yield key, stream.value()
                        if stream.peek() == "]":
                            stream.expect("]")
                            break
                        stream.expect(",")
            else:  # "members!": a members that is not a list
                yield (key + "!" if key == "members" else key), stream.value()
            if stream.peek() == "}":
                stream.expect("}")
                break
            stream.expect(",")
    if stream.peek() != "":
        raise _malformed()


def json_members(chunks: Iterable[str]) -> Iterator[Any]:
    """The members of a stored JSON body, one at a time."""
    for key, value in json_entries(chunks):
        if key == "members":
            yield value


def members(name: str, body_format: str) -> Iterator[Any]:
    """The members of a stored body, one at a time (a CSV row as ``{column: cell}``)."""
    chunks = read_sealed(name)
    if body_format == "csv":
        return csv_rows(chunks)[1]
    return json_members(chunks)


def counted(rows: Iterable[Any], on_row: Callable[[int], None]) -> Iterator[Any]:
    """``rows`` passed through, ``on_row(n)`` told the count so far."""
    for n, row in enumerate(rows, 1):
        on_row(n)
        yield row
