"""A PDF writer that streams page after page to a file, for batches of thousands of bibs.

reportlab (and fpdf2, pikepdf) keep every page object in memory until the document is
saved, so memory grows with the page count; a 5,000-bib batch measured ~200 MiB. Bib
pages need only filled rectangles, two standard fonts and text, so this writer emits
each page's content stream as soon as it is drawn and keeps only the byte offsets for
the cross-reference table (a few bytes a page). reportlab still supplies the font
metrics for centring text.
"""

from __future__ import annotations

import zlib
from array import array
from typing import BinaryIO

from reportlab.pdfbase.pdfmetrics import stringWidth

#: Object numbers fixed up front; pages start after them.
_CATALOG, _PAGES, _INFO = 1, 2, 3
FONTS = {"Helvetica": 4, "Helvetica-Bold": 5}
_FONT_NAMES = {"Helvetica": "F1", "Helvetica-Bold": "F2"}
_FIRST_FREE = 6


def _pdf_string(text: str) -> bytes:
    """A PDF literal string in WinAnsi (cp1252); characters outside it print as '?'."""
    raw = text.encode("cp1252", "replace")
    out = bytearray(b"(")
    for byte in raw:
        if byte in (0x28, 0x29, 0x5C):  # ( ) \
            out += b"\\" + bytes([byte])
        elif byte < 0x20 or byte > 0x7E:
            out += b"\\%03o" % byte
        else:
            out.append(byte)
    out += b")"
    return bytes(out)


def _num(value: float) -> bytes:
    return (b"%.2f" % value).rstrip(b"0").rstrip(b".") or b"0"


class Page:
    """The drawing operations of one page, in PDF user space (points, origin lower left)."""

    def __init__(self, width: float, height: float) -> None:
        self.width = width
        self.height = height
        self._ops: list[bytes] = []

    def fill_colour(self, hex_colour: str) -> None:
        """Set the fill colour from ``#RRGGBB``."""
        value = hex_colour.lstrip("#")
        r, g, b = (int(value[i : i + 2], 16) / 255 for i in (0, 2, 4))
        self._ops.append(b"%s %s %s rg" % (_num(r), _num(g), _num(b)))

    def rect(self, x: float, y: float, w: float, h: float) -> None:
        """A filled rectangle in the current fill colour."""
        self._ops.append(b"%s %s %s %s re f" % (_num(x), _num(y), _num(w), _num(h)))

    def module_runs(
        self, x: float, top: float, module: float, runs: list[tuple[int, int, int]]
    ) -> None:
        """Fill runs of grid cells (row, column, length) of side ``module``, rows downwards.

        The grid is drawn in its own coordinates (one unit a module, y pointing down), so
        each run is a short integer ``re`` operator: a QR costs little to write.
        """
        head = b"q %s 0 0 %s %s %s cm\n" % (_num(module), _num(-module), _num(x), _num(top))
        body = b"\n".join([b"%d %d %d 1 re" % (col, row, n) for row, col, n in runs])
        self._ops.append(head + body + b"\nf Q")

    def text(self, font: str, size: float, x: float, y: float, text: str) -> None:
        """Text with its baseline starting at (x, y)."""
        self._ops.append(
            b"BT /%s %s Tf %s %s Td %s Tj ET"
            % (_FONT_NAMES[font].encode(), _num(size), _num(x), _num(y), _pdf_string(text))
        )

    def centred_text(self, font: str, size: float, x: float, y: float, text: str) -> None:
        """Text centred on x."""
        printable = text.encode("cp1252", "replace").decode("cp1252")
        self.text(font, size, x - stringWidth(printable, font, size) / 2, y, text)

    def content(self) -> bytes:
        """The page's content stream."""
        return b"\n".join(self._ops)


class StreamingPdf:
    """Writes pages to ``out`` as they come; call :meth:`close` to finish the file."""

    def __init__(self, out: BinaryIO, *, title: str = "") -> None:
        self._out = out
        self._written = 0
        self._offsets = array("Q", [0] * _FIRST_FREE)
        self._pages = array("I")
        self._title = title
        self._write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        for name, number in FONTS.items():
            self._object(
                number,
                b"<< /Type /Font /Subtype /Type1 /BaseFont /%s /Encoding /WinAnsiEncoding >>"
                % name.encode(),
            )

    def _write(self, data: bytes) -> None:
        self._out.write(data)
        self._written += len(data)

    def _object(self, number: int, body: bytes) -> None:
        while len(self._offsets) <= number:
            self._offsets.append(0)
        self._offsets[number] = self._written
        self._write(b"%d 0 obj\n%s\nendobj\n" % (number, body))

    def _new_number(self) -> int:
        self._offsets.append(0)
        return len(self._offsets) - 1

    def add_page(self, page: Page) -> None:
        """Compress and write one page now."""
        stream = zlib.compress(page.content(), 6)
        content = self._new_number()
        self._object(
            content,
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(stream), stream),
        )
        number = self._new_number()
        fonts = b" ".join(b"/%s %d 0 R" % (_FONT_NAMES[n].encode(), o) for n, o in FONTS.items())
        self._object(
            number,
            b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %s %s] "
            b"/Resources << /Font << %s >> >> /Contents %d 0 R >>"
            % (_PAGES, _num(page.width), _num(page.height), fonts, content),
        )
        self._pages.append(number)

    @property
    def page_count(self) -> int:
        """Pages written so far."""
        return len(self._pages)

    def close(self) -> None:
        """Write the page tree, catalog, info, cross-reference table and trailer."""
        kids = b" ".join(b"%d 0 R" % n for n in self._pages)
        self._object(_PAGES, b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(self._pages)))
        self._object(_CATALOG, b"<< /Type /Catalog /Pages %d 0 R >>" % _PAGES)
        self._object(_INFO, b"<< /Title %s /Producer (funrun) >>" % _pdf_string(self._title))
        xref_at = self._written
        lines = [b"xref", b"0 %d" % len(self._offsets), b"0000000000 65535 f "]
        lines += [b"%010d 00000 n " % offset for offset in self._offsets[1:]]
        self._write(b"\n".join(lines) + b"\n")
        self._write(
            b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
            % (len(self._offsets), _CATALOG, _INFO, xref_at)
        )
        self._out.flush()
