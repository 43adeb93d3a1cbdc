"""Where the Pabulib sample elections are (``../shared/pabulib`` beside the repository), and what
a test that needs them does when they are missing: skip with a reason that says what did not
run, or, when ``CI`` is set (CI provides the data), fail."""

import os
from collections.abc import Mapping
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[3] / "shared" / "pabulib"
EXPECTED_NAME = "expected.json"


def missing_reason(data: Path = DATA) -> str | None:
    """Why the comparison with pabutools cannot run, or None when the data is there."""
    if (data / EXPECTED_NAME).is_file():
        return None
    return (f"Pabulib sample data not found at {data} (../shared/pabulib beside the repository): "
            "the comparison with pabutools did not run")


def data_expected(environ: Mapping[str, str] = os.environ) -> bool:
    """CI provides the data: ``CI=true`` (or ``1``, as most CI services set it)."""
    return environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def require(data: Path = DATA, environ: Mapping[str, str] = os.environ) -> Path:
    """The data folder; skips the test when it is missing, fails it instead under CI."""
    reason = missing_reason(data)
    if reason is None:
        return data
    if data_expected(environ):
        pytest.fail(f"CI is set, so the Pabulib data is expected, but: {reason}", pytrace=False)
    pytest.skip(reason)
