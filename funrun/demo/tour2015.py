"""The 2015 Fun Run tour as data (the demo moves its dates to start today).

Jakarta's finale (Sunday 13 Dec 2015, Plaza Selatan, Gelora Bung Karno, quota 5,000)
is published; the other ten cities' dates and venues are not, so the dates below are
illustrative, chosen in the tour window (14 Nov - 13 Dec 2015), and marked as such.
``seed-demo`` keeps the cities, venues and quotas but races them from today on
(:data:`DEMO_OFFSETS`), every date marked illustrative.
"""

from __future__ import annotations

from datetime import date, time

TOUR = {
    "slug": "funrun-2015",
    "name": "Fun Run 5K 2015",
    "organiser": "BPJS Ketenagakerjaan",
    "scheme_name": "BPJS Ketenagakerjaan",
    "colour": "#0A7A3D",
    "accent_colour": "#F2A900",
}

#: Days after the demo's "today" on which each city races, in the order of EVENTS: the
#: first city races today (so the scan page and the desk can be tried at once), the others
#: on the coming weekends, the Jakarta finale last.
DEMO_OFFSETS = (0, 6, 7, 13, 14, 20, 21, 27, 28, 34, 35)

#: (slug, city, date, timezone, venue, quota, bib prefix, illustrative date?)
EVENTS: list[tuple[str, str, date, str, str, int, str, bool]] = [
    (
        "batam-2015",
        "Batam",
        date(2015, 11, 14),
        "Asia/Jakarta",
        "Dataran Engku Putri",
        1000,
        "BTM",
        True,
    ),
    (
        "medan-2015",
        "Medan",
        date(2015, 11, 15),
        "Asia/Jakarta",
        "Lapangan Merdeka",
        1000,
        "MDN",
        True,
    ),
    (
        "makassar-2015",
        "Makassar",
        date(2015, 11, 21),
        "Asia/Makassar",
        "Pantai Losari",
        1000,
        "MKS",
        True,
    ),
    (
        "lampung-2015",
        "Lampung",
        date(2015, 11, 22),
        "Asia/Jakarta",
        "Lapangan Saburai",
        1000,
        "LPG",
        True,
    ),
    (
        "surabaya-2015",
        "Surabaya",
        date(2015, 11, 28),
        "Asia/Jakarta",
        "Taman Bungkul",
        1000,
        "SBY",
        True,
    ),
    (
        "serang-2015",
        "Serang",
        date(2015, 11, 29),
        "Asia/Jakarta",
        "Alun-alun Serang",
        1000,
        "SRG",
        True,
    ),
    (
        "balikpapan-2015",
        "Balikpapan",
        date(2015, 12, 5),
        "Asia/Makassar",
        "Lapangan Merdeka",
        1000,
        "BPN",
        True,
    ),
    (
        "denpasar-2015",
        "Denpasar",
        date(2015, 12, 6),
        "Asia/Makassar",
        "Lapangan Puputan Renon",
        1000,
        "DPS",
        True,
    ),
    (
        "bandung-2015",
        "Bandung",
        date(2015, 12, 11),
        "Asia/Jakarta",
        "Gedung Sate",
        1000,
        "BDG",
        True,
    ),
    (
        "semarang-2015",
        "Semarang",
        date(2015, 12, 12),
        "Asia/Jakarta",
        "Simpang Lima",
        1000,
        "SMG",
        True,
    ),
    (
        "jakarta-2015",
        "Jakarta",
        date(2015, 12, 13),
        "Asia/Jakarta",
        "Plaza Selatan, Gelora Bung Karno",
        5000,
        "JKT",
        False,
    ),
]

START_TIME = time(6, 0)

#: Each city's colour on its bibs (dark enough for white text on the bands).
COLOURS = ["#0A7A3D", "#1D4E89", "#B42318", "#6941C6", "#B54708", "#0E7090",
           "#C11574", "#3E7B27", "#175CD3", "#9C2A10", "#004EEB"]  # fmt: skip

#: Demo staff log-ins (development only; printed by `make run`).
DEMO_USERS = [
    ("admin@funrun.test", "admin", "admin-demo-pass", ()),
    ("organiser@funrun.test", "organiser", "organiser-demo-pass", ()),
    # Assigned to the city racing today (the first of EVENTS), so it can scan at once.
    ("volunteer@funrun.test", "volunteer", "volunteer-demo-pass", ("batam-2015",)),
]
