"""seed-demo records some payments, so the dashboard's funnel shows every step."""

from __future__ import annotations

from funrun.payments.funnel import funnel_rows


def test_seed_demo_fills_the_funnel_of_the_first_city(runner):
    done = runner.invoke(args=["seed-demo", "--runners", "400"])
    assert done.exit_code == 0, done.output
    assert "months paid" in done.output
    first = funnel_rows("city")[0]
    assert first.registered_non_members > first.checked_in > first.enrolled > 0
    assert first.enrolled >= first.paid_month_1 > 0
