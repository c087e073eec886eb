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
import tempfile
import time
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


def write_private_file(path: Path, payload: bytes) -> None:
    """Replace `path` with `payload` atomically (temp file, fsync, rename) and readable by this user only:
    a crash leaves the old file or the new one, never half of either."""
    directory = ensure_dir(path.parent)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp_name, 0o600)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def move_aside(path: Path) -> Path | None:
    """Move a damaged file out of the way as `<name>.corrupt-<timestamp>` (kept for the user to look at);
    returns where it went, or None when there was no file."""
    if not path.exists():
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    counter = 1
    while target.exists():
        counter += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{counter}")
    os.replace(path, target)
    return target
