"""The README's examples, found by the `<!-- marker -->` comment above each code block, so
that tests run them as written."""

from __future__ import annotations

import re

from tests.conftest import REPO


def readme_block(marker: str, languages: str = "sh|bash|console") -> str:
    """The code block that follows `<!-- marker -->` in README.md."""
    text = (REPO / "README.md").read_text()
    match = re.search(rf"<!-- {marker} -->\s*```(?:{languages})?\n(.+?)\n```", text, re.DOTALL)
    assert match, f"README.md has no code block marked {marker}"
    return match.group(1).strip()
