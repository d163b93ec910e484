"""Where the shared test photos are, and what to do when they are missing."""
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(os.environ.get("FIXTURES_DIR", ROOT.parent / "shared" / "fixtures"))


def fixture_path(relative: str) -> Path:
    """The path of a shared fixture; skip the test if absent, fail under REQUIRE_FIXTURES=1."""
    path = FIXTURES / relative
    if not path.exists():
        reason = f"shared fixture {path} is missing"
        if os.environ.get("REQUIRE_FIXTURES") == "1":
            pytest.fail(reason + " and REQUIRE_FIXTURES=1")
        pytest.skip(reason)
    return path
