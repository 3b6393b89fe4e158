"""Admin views and reports ask the packages that own the tables; they build no query of their own.

Each question about calls, notices, alerts, dossiers or staff is a named function next to its
model (intake/, ivr/queries.py, sms/queries.py, scheduler/queries.py), so the staff page, the
reports, the scheduler, the IVR and the SMS keywords share one answer.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
QUERY_BUILDERS = {"select", "update", "delete", "insert", "text", "union", "exists"}


def _query_builders_in(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            found += [
                f"{path.relative_to(REPO)}:{node.lineno} imports {a.name}"
                for a in node.names
                if a.name in QUERY_BUILDERS
            ]
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name == "select" or (isinstance(func, ast.Attribute) and name == "query"):
                found.append(f"{path.relative_to(REPO)}:{node.lineno} calls {name}(")
    return found


def test_no_admin_view_or_report_builds_a_query_of_its_own():
    modules = sorted((REPO / "admin" / "views").glob("*.py")) + sorted(
        (REPO / "reports").glob("*.py")
    )
    assert len(modules) > 5

    found = [line for module in modules for line in _query_builders_in(module)]

    assert found == [], "\n".join(found)
