"""QR codes for bib payloads, drawn as merged vector rectangles.

Encoding (above all, choosing the best of the eight masks) is most of the cost of a
bib: the pure-Python encoders manage ~60 codes a second here with mask selection and
~240 with a fixed mask; zxing-cpp's C++ writer does ~1,100 with full mask selection,
so it is used for writing as the tests use it for reading. Dark modules are merged
into horizontal runs: a version 5 code is ~350 rectangles instead of ~700, sharp at
any resolution, unlike a bitmap that a renderer resamples.
"""

from __future__ import annotations

ERROR_LEVEL = "M"
QUIET_ZONE = 4  # modules of white border the standard asks for

#: A QR as its size in modules and its dark runs: (row, first column, length).
Runs = tuple[int, list[tuple[int, int, int]]]


def dark_runs(payload: str) -> Runs:
    """The QR (level M) for ``payload`` as horizontal runs of dark modules."""
    # Imported here, not at the top: every web worker imports this module (the e-ticket's
    # SVG), and most never draw a QR; zxing-cpp is ~1.8 MB resident in each that loads it.
    import zxingcpp

    code = zxingcpp.create_barcode(payload, zxingcpp.BarcodeFormat.QRCode, ec_level=ERROR_LEVEL)
    image = memoryview(code.to_image(scale=1, add_quiet_zones=False))
    size = image.shape[0]
    cells = image.tobytes()
    runs: list[tuple[int, int, int]] = []
    for y in range(size):
        row = cells[y * size : (y + 1) * size]
        x = row.find(0)  # 0 is dark, 255 light
        while x != -1:
            end = row.find(255, x)
            if end == -1:
                end = size
            runs.append((y, x, end - x))
            x = row.find(0, end)
    return size, runs


def svg(payload: str) -> str:
    """The QR as a small scalable SVG (quiet zone included), for the e-ticket on a phone."""
    size, runs = dark_runs(payload)
    side = size + 2 * QUIET_ZONE
    path = "".join(f"M{x + QUIET_ZONE} {y + QUIET_ZONE}h{n}v1h-{n}z" for y, x, n in runs)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {side} {side}" '
        f'shape-rendering="crispEdges" role="img">'
        f'<rect width="{side}" height="{side}" fill="#fff"/>'
        f'<path d="{path}" fill="#000"/></svg>'
    )
