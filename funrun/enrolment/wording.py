"""A contribution put into words, in the reader's language: months, reliefs, next due date.

:func:`explain` turns a :class:`~funrun.enrolment.contribution.Quote` into the lines the
desk, the calculator, the done page and the receipt show (the template macro
``templates/enrolment/_contribution.html`` renders them). :func:`terbilang` writes an
amount in Indonesian words for the cash receipt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from flask import Flask
from flask_babel import force_locale, format_date, format_decimal
from flask_babel import gettext as _

from funrun.enrolment.contribution import PROGRAMME_ORDER, MonthPrice, Quote, Relief, month_start
from funrun.enrolment.filters import rupiah

#: The arrow between an amount before and after relief (the PDFs' fonts lack "→").
ARROW = "→"


def month_label(month: date) -> str:
    """``Desember 2026`` / ``December 2026`` in the current language."""
    return format_date(month, "MMMM y")


def long_date(day: date) -> str:
    """``15 Maret 2027`` / ``15 March 2027`` in the current language."""
    return format_date(day, "d MMMM y")


def join_and(items: Sequence[str]) -> str:
    """``JKK dan JKM``, ``JKK, JKM dan JHT`` (``and`` in English)."""
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    return _("%(items)s and %(last)s", items=", ".join(items[:-1]), last=items[-1])


def month_runs(months: Sequence[date]) -> list[tuple[date, date]]:
    """Consecutive months grouped: ``[(first, last), ...]`` in order."""
    runs: list[tuple[date, date]] = []
    for month in sorted(months):
        if runs and month_start(runs[-1][1], 1) == month:
            runs[-1] = (runs[-1][0], month)
        else:
            runs.append((month, month))
    return runs


def months_text(months: Sequence[date]) -> str:
    """``Desember 2026 - Februari 2027`` (runs joined by ``dan``/``and``)."""
    parts = [
        month_label(first) if first == last else f"{month_label(first)} - {month_label(last)}"
        for first, last in month_runs(months)
    ]
    return join_and(parts)


def period_text(first: date, last: date) -> str:
    """The months from ``first``'s to ``last``'s: ``Desember 2026 - Februari 2027``."""
    first, last = month_start(first), month_start(last)
    return month_label(first) if first == last else f"{month_label(first)} - {month_label(last)}"


def percent(discount_bp: int) -> str:
    """A discount in basis points as ``50%`` or ``12,5%``."""
    return f"{format_decimal(discount_bp / 100, format='#,##0.##')}%"


def relief_sentence(relief: Relief, locale: str) -> str:
    """``Keringanan iuran PP 50/2025: JKK dan JKM dipotong 50%``."""
    programmes = [p for p in PROGRAMME_ORDER if p in relief.programmes]
    return _(
        "%(relief)s: %(programmes)s cut by %(percent)s",
        relief=relief.name_in(locale),
        programmes=join_and(programmes),
        percent=percent(relief.discount_bp),
    )


@dataclass(frozen=True)
class MonthRow:
    """A row of the months table."""

    month: date
    label: str
    jkk: int
    jkm: int
    jht: int
    total: int
    #: The relief's name and its cut (e.g. ``50%``), or None.
    relief_name: str | None
    relief_cut: str | None


@dataclass(frozen=True)
class ReliefWords:
    """One relief as applied: what it is, which months, each programme before and after."""

    code: str
    sentence: str
    months: str
    months_sentence: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Explained:
    """A quote in words, in one language."""

    rows: tuple[MonthRow, ...]
    programmes: tuple[str, ...]
    total: int
    months_covered: str
    months_sentence: str
    basis_sentence: str
    reliefs: tuple[ReliefWords, ...]
    #: Which months are at the full rate, when a relief applies to others; else None.
    full_rate_sentence: str | None
    #: The programmes' monthly amounts when no relief applies at all; else ().
    full_lines: tuple[str, ...]
    next_due: date
    next_due_sentence: str


def _amount(month: MonthPrice, programme: str, *, full: bool) -> int:
    name = programme.lower()
    return int(getattr(month, f"full_{name}" if full else name))


def _relief_lines(month: MonthPrice, programmes: Sequence[str], arrow: str) -> tuple[str, ...]:
    lines = []
    for programme in programmes:
        before, after = _amount(month, programme, full=True), _amount(month, programme, full=False)
        if before != after:
            line = f"{programme}: {rupiah(before)} {arrow} {rupiah(after)}"
        else:
            line = _(
                "%(programme)s: %(amount)s (no relief)", programme=programme, amount=rupiah(after)
            )
        lines.append(line)
    return tuple(lines)


def _reliefs(quote: Quote, locale: str, arrow: str) -> tuple[ReliefWords, ...]:
    # One entry per relief and distinct set of amounts (a schedule change mid-way gives two).
    groups: dict[tuple, list[MonthPrice]] = {}
    for m in quote.per_month:
        if m.relief is None:
            continue
        key = (m.relief.code, m.full_jkk, m.full_jkm, m.full_jht, m.jkk, m.jkm, m.jht)
        groups.setdefault(key, []).append(m)
    words = []
    for months in groups.values():
        relief = months[0].relief
        assert relief is not None
        covered = months_text([m.month for m in months])
        words.append(
            ReliefWords(
                code=relief.code,
                sentence=relief_sentence(relief, locale),
                months=covered,
                months_sentence=_("Applied to the contribution of %(months)s", months=covered),
                lines=_relief_lines(months[0], quote.programmes, arrow),
            )
        )
    return tuple(words)


def explain(quote: Quote, locale: str, *, arrow: str = ARROW) -> Explained:
    """``quote`` in words in ``locale`` (``id`` or ``en``)."""
    with force_locale(locale):
        rows = tuple(
            MonthRow(
                month=m.month,
                label=month_label(m.month),
                jkk=m.jkk,
                jkm=m.jkm,
                jht=m.jht,
                total=m.total,
                relief_name=m.relief.name_in(locale) if m.relief else None,
                relief_cut=percent(m.relief.discount_bp) if m.relief else None,
            )
            for m in quote.per_month
        )
        covered = months_text([m.month for m in quote.per_month])
        if quote.months == 1:
            months_sentence = _("Month covered: %(months)s", months=covered)
        else:
            months_sentence = _(
                "Months covered: %(months)s (%(count)d months)", months=covered, count=quote.months
            )
        reliefs = _reliefs(quote, locale, arrow)
        full_months = [m.month for m in quote.per_month if m.relief is None]
        full_rate = None
        if reliefs and full_months:
            full_rate = _("Full rate, no relief: %(months)s", months=months_text(full_months))
        full_lines: tuple[str, ...] = ()
        if not reliefs:
            full_lines = tuple(
                f"{p}: {rupiah(_amount(quote.first, p, full=False))}" for p in quote.programmes
            )
        return Explained(
            rows=rows,
            programmes=quote.programmes,
            total=quote.total,
            months_covered=covered,
            months_sentence=months_sentence,
            basis_sentence=_("Income basis: %(amount)s", amount=rupiah(quote.income_basis)),
            reliefs=reliefs,
            full_rate_sentence=full_rate,
            full_lines=full_lines,
            next_due=quote.next_due,
            next_due_sentence=_(
                "Next contribution due by %(date)s", date=long_date(quote.next_due)
            ),
        )


def init_app(app: Flask) -> None:
    """Make :func:`explain`, :func:`month_label` and what an enrolment was charged
    (:func:`funrun.enrolment.charged.charged_quote`) available to templates."""
    from funrun.enrolment.charged import charged_quote

    app.jinja_env.globals["explain_contribution"] = explain
    app.jinja_env.globals["charged_contribution"] = charged_quote
    app.jinja_env.filters["month_year"] = month_label


_DIGITS = (
    "nol", "satu", "dua", "tiga", "empat", "lima", "enam", "tujuh", "delapan", "sembilan",
    "sepuluh", "sebelas",
)  # fmt: skip
_SCALES = ((10**12, "triliun"), (10**9, "miliar"), (10**6, "juta"))


def _below_thousand(n: int) -> list[str]:
    words: list[str] = []
    hundreds, rest = divmod(n, 100)
    if hundreds == 1:
        words.append("seratus")
    elif hundreds:
        words += [_DIGITS[hundreds], "ratus"]
    if rest < 12:
        if rest:
            words.append(_DIGITS[rest])
    elif rest < 20:
        words += [_DIGITS[rest - 10], "belas"]
    else:
        tens, ones = divmod(rest, 10)
        words += [_DIGITS[tens], "puluh"]
        if ones:
            words.append(_DIGITS[ones])
    return words


def terbilang(amount: int) -> str:
    """A whole amount in Indonesian words: ``102000`` -> ``seratus dua ribu``.

    ``seratus``, ``seribu`` and ``sebelas`` for one hundred, one thousand and eleven; up
    to 999 trillion.
    """
    if amount < 0 or amount >= 10**15:
        raise ValueError("terbilang: 0 to 999 trillion")
    if amount == 0:
        return _DIGITS[0]
    words: list[str] = []
    for scale, name in _SCALES:
        count, amount = divmod(amount, scale)
        if count:
            words += [*_below_thousand(count), name]
    thousands, amount = divmod(amount, 1000)
    if thousands == 1:
        words.append("seribu")
    elif thousands:
        words += [*_below_thousand(thousands), "ribu"]
    words += _below_thousand(amount)
    return " ".join(words)


def terbilang_rupiah(amount: int) -> str:
    """``seratus dua ribu rupiah``."""
    return f"{terbilang(amount)} rupiah"
