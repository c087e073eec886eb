"""The layer rules of DESIGN.md hold (import-linter contracts in pyproject.toml)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept() -> None:
    lint_imports = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or "lint-imports"
    result = subprocess.run([lint_imports, "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_only_credentials_module_imports_keyring() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "classhub_desktop").rglob("*.py")
        if path.name != "credentials.py"
        and any(line.strip().startswith(("import keyring", "from keyring")) for line in path.read_text().splitlines())
    ]
    assert offenders == []


# Threads start in ui/tasks.py only; the one other place is the keyring probe, which must be able to
# give up on a keyring that never answers (the CLI has no task runner).
THREAD_STARTERS_ALLOWED = {"classhub_desktop/ui/tasks.py", "classhub_desktop/config/credentials.py"}


def test_only_ui_tasks_starts_threads() -> None:
    markers = ("threading.Thread(", "QThread(", "QThreadPool", "concurrent.futures", "multiprocessing")
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "classhub_desktop").rglob("*.py")
        if str(path.relative_to(ROOT)) not in THREAD_STARTERS_ALLOWED and any(m in path.read_text() for m in markers)
    ]
    assert offenders == []


def _tool(name: str) -> str:
    return shutil.which(name, path=str(Path(sys.executable).parent)) or name


def test_ruff_is_clean() -> None:
    result = subprocess.run([_tool("ruff"), "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean_and_strict_on_core() -> None:
    # pyproject.toml makes classhub_desktop.core strict; the other non-GUI layers are checked too.
    targets = [
        "classhub_desktop/core",
        "classhub_desktop/store",
        "classhub_desktop/config",
        "classhub_desktop/sandbox",
        "classhub_desktop/cli",
        "classhub_desktop/remote",
    ]
    result = subprocess.run([_tool("mypy"), *targets], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
