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
# (store/duplicates/parallel.py: the scan's scoring helper is a spawned PROCESS with its own connection, started
# and stopped inside one scan, which itself runs on a ui/tasks.py thread: no thread of its own, no shared state)
THREAD_STARTERS_ALLOWED = {"classhub_desktop/ui/tasks.py", "classhub_desktop/config/credentials.py",
                           "classhub_desktop/store/duplicates/parallel.py"}


# What opens a database connection or an HTTP client. In ui/ only the task helpers run work, and the workspace
# (through them) opens connections: a page that called any of these would block the GUI thread.
CONNECTION_OPENERS = {"create_engine", "make_engine", "probe_connection", "open_session", "sign_in", "Client",
                      "AsyncClient"}


def _ui_calls_that_open_connections(path: Path) -> list[str]:
    import ast

    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        # engine.connect() / engine.begin() take no arguments; Qt's signal.connect(slot) always takes one.
        opens_engine = name in ("connect", "begin") and not node.args and not node.keywords
        if name in CONNECTION_OPENERS or opens_engine:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}()")
    return found


def test_ui_never_opens_a_connection_itself() -> None:
    """ui/ reaches the database and the API only through operations run by ui/tasks.py (PageOps), which
    receive the workspace's engine or client; it imports no driver (import-linter) and calls no opener."""
    offenders = [
        finding
        for path in sorted((ROOT / "classhub_desktop" / "ui").rglob("*.py"))
        for finding in _ui_calls_that_open_connections(path)
    ]
    assert offenders == []
    sqlalchemy_imports = [
        f"{path.relative_to(ROOT)}: {line.strip()}"
        for path in (ROOT / "classhub_desktop" / "ui").rglob("*.py")
        for line in path.read_text().splitlines()
        if line.startswith(("from sqlalchemy", "import sqlalchemy")) and line.strip() != "from sqlalchemy import Engine"
    ]
    assert sqlalchemy_imports == [], "ui/ may name the Engine type, nothing else of SQLAlchemy"


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
    # pyproject.toml makes core, workspace, ui and cli strict (see [tool.mypy] overrides); every layer is checked.
    targets = [
        "classhub_desktop/core",
        "classhub_desktop/store",
        "classhub_desktop/config",
        "classhub_desktop/sandbox",
        "classhub_desktop/cli",
        "classhub_desktop/remote",
        "classhub_desktop/offline",
        "classhub_desktop/workspace",
        "classhub_desktop/ui",
    ]
    result = subprocess.run([_tool("mypy"), *targets], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


# Function-local imports of our own modules are how import loops hid (core.health model <-> catalog,
# store.health runner <-> its checks): an import inside a function is not seen at import time, so a loop
# never fails loudly. core/ and store/ import each other's modules at the top only. Entries here need a reason.
LOCAL_IMPORTS_ALLOWED: dict[str, str] = {}


def _function_local_project_imports(path: Path) -> list[str]:
    import ast

    found: list[str] = []
    for function in ast.walk(ast.parse(path.read_text())):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""] if node.level == 0 else ["." * node.level + (node.module or "")]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                if name.startswith((".", "classhub_desktop")):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}")
    return sorted(set(found))


def test_core_and_store_import_project_modules_at_the_top_only() -> None:
    offenders = [
        finding
        for layer in ("core", "store")
        for path in sorted((ROOT / "classhub_desktop" / layer).rglob("*.py"))
        if str(path.relative_to(ROOT)) not in LOCAL_IMPORTS_ALLOWED
        for finding in _function_local_project_imports(path)
    ]
    assert offenders == [], "import these at the top of the module (a loop shows up as an ImportError there)"
