"""A wheel installed in a fresh virtual environment migrates a database from outside the source tree."""

from __future__ import annotations

import site
import subprocess
import sys
import venv
from pathlib import Path

from tests.conftest import PgServer

ROOT = Path(__file__).resolve().parents[1]


def test_installed_wheel_migrates_from_outside_the_source_tree(tmp_path: Path, pg_server: PgServer) -> None:
    wheel_dir = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheel_dir), str(ROOT)],
        check=True, capture_output=True,
    )
    (wheel,) = wheel_dir.glob("classhub_desktop-*.whl")

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    target = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", target, str(wheel)],
        check=True, capture_output=True,
    )
    # Third-party dependencies come from the test environment (appended after the fresh site-packages,
    # so `classhub_desktop` itself resolves to the installed wheel, never to the source tree).
    Path(target, "zz_test_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")

    where = subprocess.run(
        [str(python), "-c", "import classhub_desktop.store.migrations as m; print(m.script_location())"],
        check=True, capture_output=True, text=True, cwd=tmp_path,
    ).stdout.strip()
    assert where.startswith(target) and (Path(where) / "versions").is_dir()

    name = pg_server.create_database()
    try:
        url = pg_server.conninfo(name)
        cli = [str(python), "-m", "classhub_desktop"]
        check = subprocess.run([*cli, "db", "check", "--db", url], capture_output=True, text=True, cwd=tmp_path)
        assert check.returncode == 1 and "0001" in check.stdout
        upgrade = subprocess.run([*cli, "db", "upgrade", "--db", url], capture_output=True, text=True, cwd=tmp_path)
        assert upgrade.returncode == 0, upgrade.stderr
        check = subprocess.run([*cli, "db", "check", "--db", url], capture_output=True, text=True, cwd=tmp_path)
        assert check.returncode == 0, check.stdout + check.stderr
    finally:
        pg_server.drop_database(name)


def test_every_third_party_import_is_a_declared_dependency(tmp_path: Path) -> None:
    """The fresh-environment test above borrows installed packages; this proves none is undeclared."""
    import ast
    import re
    import tomllib
    from importlib.metadata import packages_distributions

    declared = {
        re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")
        for requirement in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    }
    module_to_dists = packages_distributions()
    missing: dict[str, str] = {}
    for path in (ROOT / "classhub_desktop").rglob("*.py"):
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
                    missing[top] = str(path.relative_to(ROOT))
    assert missing == {}
