"""How the stats query splits its range: whole calendar months (the monthly roll-up) and the
days at either end (the daily one) cover every day of the range exactly once."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from redemptions.stats import MAX_DAYS, Scope


@settings(max_examples=300, deadline=None)
@given(st.dates(date(2000, 1, 1), date(2099, 12, 31)), st.integers(0, MAX_DAYS - 1))
def test_months_and_edges_cover_the_range_once(start: date, length: int) -> None:
    scope = Scope("000000", start, start + timedelta(days=length))
    covered = [
        d for d in scope.days() for month in scope.whole_months() if d.startswith(month + "-")
    ]
    edges = scope.edges()
    assert len(edges) <= 2
    for first, last in edges:
        assert first <= last
        covered += [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]
    assert sorted(covered) == scope.days()
    for month in scope.whole_months():  # whole: its first and last day are in the range
        first = date.fromisoformat(month + "-01")
        last = (first + timedelta(days=31)).replace(day=1) - timedelta(days=1)
        assert scope.start <= first and last <= scope.end
    if scope.whole_months():  # the ends are parts of months: under a month each
        assert all((last - first).days < 31 for first, last in edges)


def test_examples() -> None:
    year = Scope("000000", date(2025, 6, 2), date(2026, 6, 2))
    assert year.whole_months() == [f"2025-{m:02d}" for m in range(7, 13)] + [
        f"2026-{m:02d}" for m in range(1, 6)
    ]
    assert year.edges() == [
        (date(2025, 6, 2), date(2025, 6, 30)),
        (date(2026, 6, 1), date(2026, 6, 2)),
    ]
    february = Scope("000000", date(2028, 2, 1), date(2028, 2, 29))
    assert february.whole_months() == ["2028-02"] and february.edges() == []
    short = Scope("000000", date(2026, 2, 1), date(2026, 2, 27))
    assert short.whole_months() == [] and short.edges() == [(short.start, short.end)]
    across = Scope("000000", date(2026, 12, 31), date(2027, 2, 1))
    assert across.whole_months() == ["2027-01"]
    assert across.edges() == [(date(2026, 12, 31), date(2026, 12, 31)), (date(2027, 2, 1),) * 2]
