"""Values every layer passes: JSON values (inputs, results, event data, options) and ids."""

from __future__ import annotations

import uuid
from typing import TypeAlias

JsonValue: TypeAlias = "bool | int | float | str | list[JsonValue] | dict[str, JsonValue] | None"


def is_uuid(value: str) -> bool:
    """Whether value is a UUID: anything else names no job (and would fail its cast)."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
