"""The organiser's shirt stock form: a quantity per size of the event (issue 19, point 6)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from funrun.accounts.access import ORGANISERS, roles_required
from funrun.events import bp
from funrun.events.models import Event
from funrun.events.services import get_event, list_events
from funrun.events.stock import (
    EventStock,
    StockRefused,
    read_quantities,
    set_stock,
    stock_against_demand,
    stock_table,
)
from funrun.reports.charts import BAR_ROW, LABEL_WIDTH, VALUE_WIDTH, WIDTH, HBar, HChart

PLOT = WIDTH - LABEL_WIDTH - VALUE_WIDTH


class StockForm(FlaskForm):
    """The quantities are read from the request's own fields (one per size): CSRF only."""


@bp.app_template_global()
def shirt_stock_table(event: Event) -> list:
    """The event's sizes with stock, demand and handed out (the event's staff page)."""
    return stock_table(event)


@bp.route("/staff/events/<slug:slug>/shirt-stock", methods=["GET", "POST"])
@roles_required(*ORGANISERS)
def shirt_stock(slug: str) -> Response | tuple[str, int]:
    """Set how many shirts of each size the event has; blank: no stock for that size."""
    event = get_event(slug)
    if event is None:
        abort(404)
    form = StockForm()
    errors: dict[str, str] = {}
    values: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        if not form.validate():
            abort(400)
        raw = {size: request.form.get(f"size-{size}", "") for size in event.shirt_sizes}
        try:
            set_stock(event, read_quantities(event, raw))
        except StockRefused as refused:
            errors, values, status = refused.errors, raw, 422
            flash(_("Some fields need correcting. See the messages below."), "error")
        else:
            flash(_("Shirt stock saved."), "success")
            return redirect(url_for("events.edit", slug=slug))
    return render_template(
        "events/shirt_stock.html", event=event, errors=errors, values=values
    ), status


@bp.app_template_global()
def shirt_stock_boards() -> list[tuple[EventStock, HChart]]:
    """Every event's shirts: stock against demand per size, as a table and as bars (the
    dashboard). The bar is the stock, the grey behind it the demand: grey showing past the
    bar is a shortfall. An event without stock set: the bar is the demand."""
    boards = []
    for board in stock_against_demand(list_events()):
        peak, unset = board.peak, not board.has_stock
        bars = [
            HBar(
                label=row.size,
                y=index * BAR_ROW,
                width=round(PLOT * (row.demand if unset else row.quantity or 0) / peak, 1),
                back_width=0.0 if unset else round(PLOT * row.demand / peak, 1),
                value=str(row.demand) if row.quantity is None else f"{row.quantity}/{row.demand}",
            )
            for index, row in enumerate(board.rows)
        ]
        boards.append((board, HChart(bars=bars, height=max(len(bars), 1) * BAR_ROW)))
    return boards
