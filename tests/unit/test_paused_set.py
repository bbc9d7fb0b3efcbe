"""PausedSet.holds: whether a job (a schedule's next tick, say) would wait PAUSED."""

from __future__ import annotations

import pytest

from jobsvc.domain.pauses import PausedSet

PAUSES = PausedSet([("send_email", "", ""), ("resize", "1.4.0", ""), ("", "", "acme")])


@pytest.mark.parametrize(
    ("handler", "version", "keys", "held"),
    [
        ("send_email", "2.0.0", (), True),  # every version of it
        ("resize", "1.4.0", (), True),
        ("resize", "2.0.0", (), False),  # another version
        ("charge", "1.0.0", (None, "acme", None), True),  # a paused key among its keys
        ("charge", "1.0.0", ("globex", None, "globex"), False),
        ("charge", "1.0.0", (None, None, None), False),
    ],
)
def test_a_job_is_held_by_its_handler_version_or_any_of_its_keys(
    handler: str, version: str, keys: tuple[str | None, ...], held: bool
) -> None:
    assert PAUSES.holds(handler, version, keys) is held
    assert PausedSet().holds(handler, version, keys) is False
