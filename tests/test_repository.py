"""The repository stands on its own: nothing in it points to notes that live outside it.

The domain facts the code relies on are in docs/domain.md and docs/notices.md; a comment, doc or
test that sends the reader to a file or a conversation they cannot open is a dead end.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Spelled in pieces so this file does not find itself.
OUTSIDE = re.compile(
    "|".join(
        [
            r"\b" + "DOMAIN" + r"\.md\b",
            r"\b" + "CONTRACT" + r"\.md\b",
            r"\b" + "STYLE" + r"\.md\b",
            r"\.\./" + "shared",
            r"\bthe " + "brief" + r"\b",
            r"\b[Ii]ssue" + r" #?\d+",
            r"\baccounts " + "so far" + r"\b",
        ]
    )
)
SKIPPED_DIRECTORIES = {".git", ".venv", "var", "node_modules", "__pycache__", "test-artifacts"}


def repository_files() -> list[Path]:
    """Tracked and new (not ignored) files of a git checkout, else all but build leftovers."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return [
            path
            for path in ROOT.rglob("*")
            if path.is_file() and not SKIPPED_DIRECTORIES & set(path.relative_to(ROOT).parts)
        ]
    return [ROOT / name for name in listed.decode().split("\0") if name]


def mentions_outside(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
        return []  # binary fixtures (audio, images) and files deleted but not yet staged
    return [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for number, line in enumerate(text.splitlines(), start=1)
        if OUTSIDE.search(line)
    ]


def test_the_pattern_catches_each_kind_of_outside_pointer():
    examples = [
        "see " + "DOMAIN" + ".md",
        "(" + "CONTRACT" + ".md)",
        "STYLE" + ".md says",
        "../" + "shared/notes",
        "named in the " + "brief",
        "the staff page (" + "issue" + " 7)",
        "the staff web page (accounts " + "so far)",
    ]
    assert [text for text in examples if not OUTSIDE.search(text)] == []
    assert not OUTSIDE.search("docs/domain.md, a tissue 4 layers thick, briefly")


def test_no_tracked_file_points_outside_the_repository():
    files = repository_files()
    assert any(path.name == "README.md" for path in files)
    found = [hit for path in files for hit in mentions_outside(path)]
    assert found == [], "\n".join(found)


def test_the_readme_links_the_domain_and_notice_documents():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for document in ("docs/domain.md", "docs/notices.md"):
        assert document in readme
        assert (ROOT / document).is_file()
