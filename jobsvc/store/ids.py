"""Job ids: UUIDs that begin with their creation time (RFC 9562's version 7: 48 bits of
Unix milliseconds, then 74 random bits), made by the store as it inserts jobs.

Every index keyed by a job id (jobsvc_jobs' primary key, the events' (job_id, seq), the
history's) then takes new entries at its right edge, on pages already in memory and
already written to the WAL since the last checkpoint, instead of on a random page of the
whole index: with random (version 4) ids each insert touched a page that, once per
checkpoint, went to the WAL whole. Moving a day of jobs to the history wrote 5.4 KB of
WAL a job that way. The ids stay unguessable (74 random bits) and unique; what they add
is the moment of creation, which every job's created_at says anyway.
"""

from __future__ import annotations

import os
import time

_RANDOM_A = (1 << 12) - 1
_RANDOM_B = (1 << 62) - 1


def new_job_id() -> str:
    """A new version 7 UUID, as text."""
    millis = time.time_ns() // 1_000_000
    random = int.from_bytes(os.urandom(10), "big")
    value = (
        (millis & ((1 << 48) - 1)) << 80
        | 0x7 << 76  # version
        | (random >> 62 & _RANDOM_A) << 64
        | 0b10 << 62  # variant (RFC 9562)
        | random & _RANDOM_B
    )
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
