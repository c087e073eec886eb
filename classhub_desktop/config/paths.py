"""Where ClassHub Desktop keeps its files.

By default the per-user directories of the platform (via platformdirs), for the application name
"classhub-desktop". When the environment variable CLASSHUB_HOME is set (tests, the sandbox, a
portable install), all three directories are subfolders of it instead:
``$CLASSHUB_HOME/config``, ``$CLASSHUB_HOME/data`` and ``$CLASSHUB_HOME/cache``.

The functions only compute paths; `ensure_dir` creates a directory (private to the user) when a
caller is about to write into it.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "classhub-desktop"
HOME_ENV = "CLASSHUB_HOME"


def home_override() -> Path | None:
    """The directory named by CLASSHUB_HOME (made absolute), or None when it is unset or empty."""
    value = os.environ.get(HOME_ENV, "").strip()
    if not value:
        return None
    return Path(value).expanduser().absolute()


def config_dir() -> Path:
    """Configuration files (profiles.toml). Never holds secrets."""
    home = home_override()
    if home is not None:
        return home / "config"
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    """Persistent application data (offline review packages, the sandbox cluster, ...)."""
    home = home_override()
    if home is not None:
        return home / "data"
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    """Data that can be thrown away and rebuilt (downloaded files, caches)."""
    home = home_override()
    if home is not None:
        return home / "cache"
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def ensure_dir(path: Path) -> Path:
    """Create `path` (and its parents) if missing; a newly created directory is private (0700)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path
