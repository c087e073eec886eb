"""Where the files that ship beside the code are: `db/` (the Alembic migrations) and `resources/` (style sheet,
API contract). Every reader of those files asks here.

They live at the top of the repository and the wheel maps them into the package (`classhub_desktop/db`,
`classhub_desktop/resources`; see `[tool.hatch.build.targets.wheel.force-include]`), so an installed wheel finds
them with `importlib.resources` from any working directory. A source checkout or an editable install uses the
repository's own folders instead: hatchling's editable install copies force-included files into site-packages
once, at install time, and those copies would go stale with the first edited migration.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

PACKAGE = "classhub_desktop"
PROJECT_NAME = "classhub-desktop"
ShippedFolder = Literal["db", "resources"]
SHIPPED_FOLDERS: tuple[ShippedFolder, ...] = ("db", "resources")


def db_folder() -> Path:
    """The Alembic script location: env.py, script.py.mako and versions/."""
    return _folder("db")


def resources_folder() -> Path:
    return _folder("resources")


def resource(name: str) -> Path:
    """A file of resources/, e.g. `resource("app.qss")`; FileNotFoundError names the path when it is missing."""
    path = resources_folder() / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: the installation of {PROJECT_NAME} is incomplete")
    return path


@cache
def source_root() -> Path | None:
    """The repository this package runs from (a source checkout or an editable install), else None."""
    root = Path(__file__).resolve().parent.parent
    try:
        project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8")).get("project", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    # The name check keeps a pyproject.toml that happens to sit beside site-packages from being taken for ours.
    if project.get("name") != PROJECT_NAME or not all((root / folder).is_dir() for folder in SHIPPED_FOLDERS):
        return None
    return root


def _folder(folder: ShippedFolder) -> Path:
    root = source_root()
    if root is not None:
        return root / folder
    shipped = resources.files(PACKAGE).joinpath(folder)
    # Alembic and Qt need real files; an installation from a zip archive would give a zipfile.Path here.
    if not isinstance(shipped, Path) or not shipped.is_dir():
        raise FileNotFoundError(f"{shipped} is not a folder on disk: the installation of {PROJECT_NAME} is incomplete")
    return shipped
