"""JSON Schema validators of handler inputs and outputs, compiled once per key."""

from __future__ import annotations

import jsonschema

from jobsvc.domain.jobs import JsonValue


class Validators:
    """A cache of compiled validators (the draft comes from each schema's `$schema`)."""

    def __init__(self) -> None:
        self._by_key: dict[str, jsonschema.protocols.Validator] = {}

    def get(self, key: str, schema: dict[str, JsonValue]) -> jsonschema.protocols.Validator:
        """The validator of `schema`, compiled on first use under `key`."""
        validator = self._by_key.get(key)
        if validator is None:
            validator = self._by_key[key] = jsonschema.validators.validator_for(schema)(schema)
        return validator

    def clear(self) -> None:
        """Forget every validator (the schemas may have changed)."""
        self._by_key.clear()
