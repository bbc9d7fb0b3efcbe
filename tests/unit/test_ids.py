"""Job ids are version 7 UUIDs: RFC 9562's layout, their creation time first (so that
indexes keyed by them grow at their right edge), unique."""

from __future__ import annotations

import time
import uuid

from jobsvc.store.ids import new_job_id


def test_a_job_id_is_a_version_7_uuid_that_begins_with_its_time() -> None:
    before = time.time_ns() // 1_000_000
    text = new_job_id()
    after = time.time_ns() // 1_000_000
    made = uuid.UUID(text)
    assert str(made) == text  # the canonical form: lower case, hyphenated
    assert made.version == 7 and made.variant == uuid.RFC_4122
    assert before <= made.int >> 80 <= after


def test_job_ids_are_unique_and_ordered_by_the_millisecond() -> None:
    made = [new_job_id() for _ in range(50_000)]
    assert len(set(made)) == len(made)
    millis = [uuid.UUID(m).int >> 80 for m in made]
    assert millis == sorted(millis)
    # The random part does vary: not a counter in disguise.
    assert len({uuid.UUID(m).int & ((1 << 62) - 1) for m in made}) == len(made)
