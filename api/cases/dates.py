"""Uncertain event dates (EDTF-style precision) and the interval each one may cover.

How a precision widens the stated dates into the searchable interval [earliest, latest]:

* `day`: exactly the stated days.
* `month`: from the first day of the start month to the last day of the end month.
* `year`: from 1 January of the start year to 31 December of the end year.
* `approximate`: the stated days widened by APPROXIMATE_MARGIN on each side.

A date-range query matches a case when the two intervals overlap, so an event known only as "2021" matches
"2021-03-01..2021-06-30".
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta

from schemas.case import EARLIEST_EVENT
from schemas.enums import DatePrecision

APPROXIMATE_MARGIN = timedelta(days=90)


def normalise(value: date, precision: DatePrecision) -> date:
    """Store month and year precision dates as the first day of their period."""
    if precision is DatePrecision.MONTH:
        return value.replace(day=1)
    if precision is DatePrecision.YEAR:
        return value.replace(month=1, day=1)
    return value


def window(occurred_from: date, occurred_to: date | None, precision: DatePrecision) -> tuple[date, date]:
    """Return the earliest and latest day the event may cover."""
    end = occurred_to or occurred_from
    if precision is DatePrecision.DAY:
        return occurred_from, end
    if precision is DatePrecision.MONTH:
        last = calendar.monthrange(end.year, end.month)[1]
        return occurred_from.replace(day=1), end.replace(day=last)
    if precision is DatePrecision.YEAR:
        return occurred_from.replace(month=1, day=1), end.replace(month=12, day=31)
    lo = max(date.min + APPROXIMATE_MARGIN, occurred_from) - APPROXIMATE_MARGIN
    hi = min(date.max - APPROXIMATE_MARGIN, end) + APPROXIMATE_MARGIN
    return lo, hi


def latest_possible_today() -> date:
    """Today's date somewhere on Earth (UTC+14): a later event date is in the future everywhere."""
    return (datetime.now(UTC) + timedelta(hours=14)).date()


def date_problems(occurred_from: date, occurred_to: date | None) -> list[tuple[str, str]]:
    """Return (field, message) for dates out of range, in the future, or ending before they start."""
    problems = []
    today = latest_possible_today()
    for name, value in (("occurred_from", occurred_from), ("occurred_to", occurred_to)):
        if value is None:
            continue
        if value < EARLIEST_EVENT:
            problems.append((name, f"must be on or after {EARLIEST_EVENT.isoformat()}"))
        elif value > today:
            problems.append((name, "must not be in the future"))
    if occurred_to is not None and occurred_to < occurred_from:
        problems.append(("occurred_to", "must not be before occurred_from"))
    return problems
