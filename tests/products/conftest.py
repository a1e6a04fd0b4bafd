"""Checkers of the products by the book: the IOOS CF checker, rio-cogeo, cf-units."""

from __future__ import annotations

from pathlib import Path

import pytest


def cf_check(path: Path, version: str) -> list[str]:
    """Run the IOOS compliance checker's CF suite on a file; return every issue it reports.

    Issues of every priority (errors and warnings) count, and so does a check that raised
    inside the checker (it would otherwise hide a problem of the file).
    """
    from compliance_checker.runner import CheckSuite

    suite = CheckSuite()
    suite.load_all_available_checkers()
    name = f"cf:{version}"
    assert name in suite.checkers, f"compliance-checker has no {name} suite"
    ds = suite.load_dataset(str(path))
    try:
        results = suite.run_all(ds, [name], skip_checks=[])
    finally:
        ds.close()
    groups, errors = results[name]
    assert not errors, f"the checker failed inside: {errors}"
    issues = []
    for result in groups:
        if result.value is None:
            continue
        value = result.value
        passed = value[0] == value[1] if isinstance(value, tuple) else bool(value)
        if not passed:
            issues.append(f"{result.name}: {'; '.join(result.msgs)}")
    return issues


def cog_issues(path: Path) -> list[str]:
    """Errors and warnings of rio-cogeo's strict COG validation."""
    from rio_cogeo.cogeo import cog_validate

    valid, errors, warnings = cog_validate(str(path), strict=True)
    return [*errors, *warnings] if not valid or errors or warnings else []


@pytest.fixture(scope="session")
def cf_version() -> str:
    """The CF version the products declare (the checker runs at that version)."""
    from socseq.io.metadata import CF_CONVENTIONS

    return CF_CONVENTIONS.removeprefix("CF-")
