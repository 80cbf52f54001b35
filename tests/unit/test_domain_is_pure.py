"""app/domain holds rules only: no web framework, validation library, SQL or driver."""

from __future__ import annotations

import ast
import pathlib

DOMAIN = pathlib.Path(__file__).resolve().parents[2] / "app" / "domain"
FORBIDDEN = {"sqlalchemy", "sqlmodel", "asyncpg", "pydantic", "pydantic_settings", "starlette",
             "uvicorn", "dependency_injector", "cachetools", "httpx"}


def imported_roots(path: pathlib.Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
            if node.module.startswith("app.") and not node.module.startswith("app.domain"):
                roots.add(node.module)
    return roots


def test_domain_imports_no_framework_sql_or_driver_nor_other_layers():
    modules = sorted(DOMAIN.glob("*.py"))
    assert {p.name for p in modules} >= {"balance.py", "clock.py", "profile.py", "viewing_day.py"}
    found = {p.name: sorted(r for r in imported_roots(p)
                            if r in FORBIDDEN or r.startswith("app.")) for p in modules}
    assert found == {p.name: [] for p in modules}
