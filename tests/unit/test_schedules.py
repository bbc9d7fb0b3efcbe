"""Cron timing: the documented syntax and nothing beyond it (no database, no server)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jobsvc.domain.schedules import Timing

# (expression, a moment, the first tick after it): the extensions the proto documents.
ACCEPTED = [
    ("0 3 * * *", datetime(2025, 3, 1, 12, tzinfo=UTC), datetime(2025, 3, 2, 3, tzinfo=UTC)),
    ("0 0 L * *", datetime(2025, 2, 10, tzinfo=UTC), datetime(2025, 2, 28, tzinfo=UTC)),
    ("0 0 LW * *", datetime(2025, 5, 1, tzinfo=UTC), datetime(2025, 5, 30, tzinfo=UTC)),  # the 31st is a Saturday
    ("0 0 * * 5L", datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 3, 28, tzinfo=UTC)),
    ("0 0 * * 5#2", datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 3, 14, tzinfo=UTC)),
    ("0 9 * jan-mar MON-FRI", datetime(2025, 3, 29, tzinfo=UTC), datetime(2025, 3, 31, 9, tzinfo=UTC)),
    ("0 0 * * 7", datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 3, 2, tzinfo=UTC)),  # 7 is Sunday
    ("5/20 * * * *", datetime(2025, 3, 1, 0, 6, tzinfo=UTC), datetime(2025, 3, 1, 0, 25, tzinfo=UTC)),
]


@pytest.mark.parametrize(("cron", "after", "tick"), ACCEPTED, ids=[c[0] for c in ACCEPTED])
def test_documented_cron_syntax_is_accepted(cron: str, after: datetime, tick: datetime) -> None:
    timing = Timing(cron=cron)
    assert timing.problems() == []
    assert timing.next_after(after) == tick


# (case, expression, words the refusal must contain)
REFUSED = [
    ("seconds field", "30 */5 * * * *", "got 6 (a seconds field is not supported)"),
    ("seven fields", "0 0 0 1 1 * 2025", "got 7"),
    ("four fields", "0 3 * *", "got 4"),
    ("empty", "", "got 0"),
    ("@reboot", "@reboot", "@reboot is not supported"),
    ("@daily", "@daily", "@daily is not supported"),
    ("CRON_TZ", "CRON_TZ=Europe/Paris 0 3 * * *", "the time zone is the time_zone field"),
    ("TZ", "TZ=UTC 0 3 * * *", "the time zone is the time_zone field"),
    ("no specific value", "0 0 ? * *", "Bad day-of-month"),
    ("nearest weekday", "0 0 15W * *", "Bad day-of-month"),
    ("last weekday name", "0 0 * * L", "Bad day-of-week"),
    ("no such day", "0 0 31 4 *", "Bad day-of-month"),
    ("minute 60", "60 * * * *", "Bad minute"),
    ("step 0", "*/0 * * * *", "Bad minute"),
    ("huge number", "9" * 240 + " * * * *", "Bad minute"),
    ("too long", "1," * 200 + "1 * * * *", "at most 256 characters"),
]


@pytest.mark.parametrize(("case", "cron", "words"), REFUSED, ids=[c[0] for c in REFUSED])
def test_cron_beyond_the_documented_syntax_is_refused(case: str, cron: str, words: str) -> None:
    [(field, description)] = Timing(cron=cron).problems()
    assert field == "cron"
    assert words in description, description
