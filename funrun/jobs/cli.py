"""``flask worker [--burst]``: runs background work (batch printing, file clean-up)."""

from __future__ import annotations

import click
from flask import current_app


@click.command("worker")
@click.option("--burst", is_flag=True, help="Run what is queued, then exit.")
def worker_command(burst: bool) -> None:
    """Run queued jobs, one at a time, until stopped (Ctrl-C or SIGTERM)."""
    # Imported here: the web workers never send messages, so they never load the
    # senders' HTTP client (httpx, ~5 MB resident).
    from funrun.jobs.worker import Stop, Worker, stop_on_sigterm

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    worker = Worker(app)
    stop_on_sigterm()
    if not burst:
        click.echo(f"worker {worker.name} waiting for jobs")
    try:
        count = worker.run(burst=burst)
    except (Stop, KeyboardInterrupt):
        click.echo(f"worker {worker.name} stopped; {worker.completed} jobs done")
        return
    click.echo(f"{count} jobs done")
