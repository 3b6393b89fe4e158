"""The installed project (a wheel, as in the container image) must carry every file the code
reads besides its modules: setuptools leaves out whatever package-data does not name."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_data_file_of_a_package_is_declared_as_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    declared = config["package-data"]
    packages = [name.rstrip("*") for name in config["packages"]["find"]["include"]]
    missing = []
    for package in packages:
        folder = ROOT / package
        for path in folder.rglob("*"):
            if not path.is_file() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
                continue
            relative = path.relative_to(folder).as_posix()
            if not any(fnmatch(relative, glob) for glob in declared.get(package, [])):
                missing.append(f"{package}/{relative}")
    assert missing == []
