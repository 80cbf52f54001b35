"""`make lint` is the type and style gate; these keep it honest and in CI."""

from __future__ import annotations

import pathlib
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_no_type_ignore_comments_in_the_checked_code() -> None:
    checked = [*sorted((ROOT / "app").rglob("*.py")), ROOT / "containers.py"]
    silenced = [f"{p.relative_to(ROOT)}:{n}" for p in checked
                for n, line in enumerate(p.read_text().splitlines(), 1) if "type: ignore" in line]
    assert silenced == []


def test_mypy_checks_app_and_container_and_ci_runs_lint() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    assert config["files"] == ["app", "containers.py"]
    assert config["disallow_untyped_defs"] is True and config["warn_unused_ignores"] is True
    assert "\nmake lint\n" in (ROOT / ".ci/run").read_text()


def test_test_modules_have_unique_names():
    """pytest imports test modules by basename (the test folders are not packages): two files
    of one name fail the whole run at collection."""
    from collections import Counter
    from pathlib import Path

    names = Counter(p.name for p in Path(__file__).parents[1].rglob("test_*.py"))
    assert [name for name, count in names.items() if count > 1] == []
