"""The listed values of an enrolment: occupations, programmes, months, payment channels."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

#: Informal-sector occupations the tour reaches most, then "other" with free text. Which
#: sector each belongs to (reliefs are by sector) is schedule data, not code.
OCCUPATIONS = {
    "trader": _l("Market trader or street vendor"),
    "angkot_driver": _l("Angkot driver"),
    "ojek_driver": _l("Ojek driver"),
    "online_driver": _l("Online ride-hailing driver"),
    "courier": _l("Courier"),
    "street_sweeper": _l("Street sweeper (e.g. PPSU)"),
    "fisher": _l("Fisher"),
    "farmer": _l("Farmer"),
    "day_labourer": _l("Day labourer"),
    "other": _l("Other"),
}

#: JKK and JKM are mandatory for informal workers; JHT is their choice. No JP (pension).
PROGRAMMES = {
    "JKK": _l("JKK: work accident"),
    "JKM": _l("JKM: death"),
    "JHT": _l("JHT: old-age savings"),
}
MANDATORY_PROGRAMMES = ("JKK", "JKM")

#: Contributions are paid for 1, 3, 6 or 12 months at once.
MONTHS = (1, 3, 6, 12)

PAYMENT_CHANNELS = {
    "cash": _l("Cash at the desk"),
    "bank": _l("Partner bank"),
    "epayment": _l("E-payment"),
}
