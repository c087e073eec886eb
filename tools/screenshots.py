"""Screenshots of every page and the main dialogs, at 1280×720, 1440×900 and 150 % scaling, light and dark.

    .venv/bin/python tools/screenshots.py OUT_DIR --conninfo "host=… dbname=…"
    .venv/bin/python tools/screenshots.py OUT_DIR --conninfo-file /tmp/m1/conninfo --dbname s100k

Connect to a sandbox (`classhub-desktop sandbox` prints its conninfo; any ClassHub database works). The
script only reads: the duplicate scan and the merge preview run in transactions that are rolled back, and
the preview is opened without its Merge button. Nothing is imported, merged or saved.

Each (scheme, scale) runs in a child process, because QT_SCALE_FACTOR must be set before Qt starts; the
150 % run uses 1280×650 logical pixels, what a 1920×1080 screen leaves after the title bar and taskbar. Files
are named `<scheme>_<size>_<shot>.png`; `index.txt` lists them with each window's minimum size.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

CONFIGS = {  # name -> (scale factor, logical sizes)
    "1x": (1.0, [(1280, 720), (1440, 900)]),
    "150pct": (1.5, [(1280, 650)]),
}
SCHEMES = ("light", "dark")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="folder for the PNG files (created)")
    parser.add_argument("--conninfo", help="libpq conninfo of the sandbox database")
    parser.add_argument("--conninfo-file", type=Path, help="read the conninfo from this file")
    parser.add_argument("--dbname", help="replace the conninfo's dbname")
    parser.add_argument("--schemes", default=",".join(SCHEMES), help="light,dark (default both)")
    parser.add_argument("--configs", default=",".join(CONFIGS), help="1x,150pct (default both)")
    parser.add_argument("--locale", default="", help="e.g. en_US or de_DE: dates as users there read them "
                        "(default: the system's)")
    parser.add_argument("--only", default="", help="comma-separated shot names to take (default all)")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # "<scheme>:<config>" in the child process
    args = parser.parse_args(argv)
    if not args.conninfo and args.conninfo_file:
        args.conninfo = args.conninfo_file.read_text(encoding="utf-8").strip()
    if not args.conninfo:
        parser.error("give --conninfo or --conninfo-file")
    if args.dbname:
        parts = [p for p in args.conninfo.split() if not p.startswith("dbname=")]
        args.conninfo = " ".join([*parts, f"dbname={args.dbname}"])
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.child:
        return run_child(args)
    args.out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for scheme in args.schemes.split(","):
        for config in args.configs.split(","):
            scale, _sizes = CONFIGS[config]
            env = {**os.environ, "QT_SCALE_FACTOR": f"{scale:g}", "QT_QPA_PLATFORM": "offscreen",
                   "CLASSHUB_COLOR_SCHEME": scheme}
            child = [sys.executable, __file__, str(args.out), "--conninfo", args.conninfo,
                     "--child", f"{scheme}:{config}", "--only", args.only, "--locale", args.locale]
            print(f"== {scheme} {config}", flush=True)
            failed += subprocess.run(child, env=env, check=False).returncode != 0
    return 1 if failed else 0


# --- the child: one scheme at one scale ----------------------------------------------------------------


def run_child(args: argparse.Namespace) -> int:
    os.environ.setdefault("CLASSHUB_HOME", str(args.out / ".home"))  # no profile of the user is touched
    from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication, QDialog, QTableView, QWidget

    from classhub_desktop.config.credentials import CredentialStore
    from classhub_desktop.config.profiles import ProfileStore
    from classhub_desktop.core.progress import CancelToken, Progress
    from classhub_desktop.ui.app import create_application
    from classhub_desktop.ui.common.theme import apply_scheme
    from classhub_desktop.ui.main_window import MainWindow
    from classhub_desktop.ui.tasks import TaskRunner
    from classhub_desktop.workspace.connect import open_workspace
    from classhub_desktop.workspace.targets import DatabaseTarget, Target

    scheme, config = args.child.split(":")
    _scale, sizes = CONFIGS[config]
    only = {name for name in args.only.split(",") if name}
    app = create_application([sys.argv[0]])
    if args.locale:
        from PySide6.QtCore import QLocale

        QLocale.setDefault(QLocale(args.locale))
    apply_scheme(app, "dark" if scheme == "dark" else "light")
    home = Path(os.environ["CLASSHUB_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    profiles = ProfileStore(home / "profiles.toml", CredentialStore())
    window = MainWindow(TaskRunner(), profiles=profiles, credentials=profiles.credentials)
    workspace = open_workspace(Target("Sandbox", DatabaseTarget(args.conninfo)), progress=Progress(),
                               cancel=CancelToken())
    window.set_session(workspace)
    window.show()
    index = (args.out / "index.txt").open("a", encoding="utf-8")

    def spin(seconds: float) -> None:
        loop = QEventLoop()
        QTimer.singleShot(int(seconds * 1000), loop.quit)
        loop.exec()

    def wait_until(ready: Callable[[], bool], timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                spin(0.2)  # the last repaint
                return True
            spin(0.1)
        return False

    def save(widget: QWidget, name: str, size: tuple[int, int]) -> None:
        path = args.out / f"{scheme}_{config}_{size[0]}x{size[1]}_{name}.png"
        QCoreApplication.processEvents()
        widget.grab().save(str(path))
        hint = widget.minimumSizeHint()
        index.write(f"{path.name}\tminimumSizeHint {hint.width()}x{hint.height()}\n")
        print(path.name, flush=True)

    def want(name: str) -> bool:
        return not only or name in only

    roster, duplicates, health, audit = (window.pages[k] for k in ("roster", "duplicates", "health", "audit"))
    students = roster.students  # type: ignore[attr-defined]
    wait_until(lambda: students.model.loaded_count() > 0 and students.count is not None)

    # Data that every size shows, loaded once: a student's details, a duplicate scan, the health checks.
    window.show_page("duplicates")
    if want("duplicates") or want("merge_preview"):
        scan = duplicates.scan()  # type: ignore[attr-defined]
        if scan is not None:
            wait_until(lambda: duplicates.ops.task("scan") is None, 180)  # type: ignore[attr-defined]
    window.show_page("health")
    wait_until(lambda: bool(health.findings) and not health.sampler.is_running(), 60)  # type: ignore[attr-defined]

    for size in sizes:
        window.resize(*size)
        window.show_page("roster")
        roster.tabs.setCurrentWidget(students)  # type: ignore[attr-defined]
        students.table.clearSelection()
        students.table.setCurrentIndex(students.model.index(-1, -1))  # row 0 becomes current anew below
        students.detail.show_student(None)
        spin(0.3)
        if want("roster_students"):
            save(window, "roster_students", size)
        if want("student_detail"):
            students.table.selectRow(0)
            wait_until(lambda: students.detail.detail is not None)
            tabs = students.detail.tabs
            for i in range(tabs.count()):
                tabs.setCurrentIndex(i)
                save(window, f"student_detail_{i + 1}_{tabs.tabText(i).split(' (')[0].lower()}", size)
            tabs.setCurrentIndex(0)
        for tab_name in ("teachers", "blocks"):
            tab = getattr(roster, tab_name)
            if want(f"roster_{tab_name}"):
                roster.tabs.setCurrentWidget(tab)  # type: ignore[attr-defined]
                views: list[QTableView] = tab.findChildren(QTableView)

                def has_rows(views: list[QTableView] = views) -> bool:
                    return any(v.model() is not None and v.model().rowCount() > 0 for v in views)

                wait_until(has_rows, 20)
                save(window, f"roster_{tab_name}", size)
        roster.tabs.setCurrentWidget(students)  # type: ignore[attr-defined]

        window.show_page("duplicates")
        if want("duplicates"):
            table = duplicates.candidates.table  # type: ignore[attr-defined]
            if table.model().rowCount():
                table.selectRow(0)
            spin(0.5)
            save(window, "duplicates", size)
            for i in range(1, duplicates.tabs.count()):  # type: ignore[attr-defined]
                duplicates.tabs.setCurrentIndex(i)  # type: ignore[attr-defined]
                spin(1.5)
                save(window, f"duplicates_{i + 1}", size)
            duplicates.tabs.setCurrentIndex(0)  # type: ignore[attr-defined]

        window.show_page("health")
        if want("health"):
            health.tabs.setCurrentIndex(0)  # type: ignore[attr-defined]
            spin(0.3)
            save(window, "health_evidence", size)
            health.tabs.setCurrentWidget(health.charts)  # type: ignore[attr-defined]
            spin(1.5)
            save(window, "health_charts", size)
            health.tabs.setCurrentIndex(0)  # type: ignore[attr-defined]

        window.show_page("audit")
        if want("audit"):
            wait_until(lambda: any(v.model() is not None and v.model().rowCount()
                                   for v in audit.findChildren(QTableView)), 20)
            save(window, "audit", size)

        # Dialogs, at the window's size (they open over it).
        if want("export"):
            from classhub_desktop.ui.roster.export_dialog import ExportDialog

            dialog: QDialog = ExportDialog(window)
            dialog.show()
            spin(0.3)
            save(dialog, "dialog_export", size)
            dialog.close()
        if want("merge_preview"):
            shoot_merge_preview(window, duplicates, size, save, spin)
        if want("import_preview"):
            shoot_import_preview(window, args.out, size, save, spin)

    index.close()
    window.set_session(None)
    window.close()
    QApplication.processEvents()
    return 0


def shoot_merge_preview(window: object, duplicates: object, size: tuple[int, int],
                        save: Callable[..., None], spin: Callable[[float], None]) -> None:
    """The preview of the first candidate pair, computed in a rolled-back transaction, without a Merge button."""
    from classhub_desktop.store.merge.operations import preview_merge
    from classhub_desktop.ui.duplicates.preview_dialog import MergePreviewDialog

    panel = duplicates.comparison  # type: ignore[attr-defined]
    if not panel.survivor_id:
        return
    session = window.session  # type: ignore[attr-defined]
    preview = preview_merge(session.engine, panel.survivor_id, panel.absorbed_id, panel.field_choices())
    dialog = MergePreviewDialog(preview, duplicates.candidates.model.records(), window,  # type: ignore[arg-type, attr-defined]
                                confirm=False)
    # The offscreen screen is 800×600: size the dialog as the dialog does on a screen of the window's size.
    dialog.resize(min(1120, size[0] - 40), min(760, size[1] - 60))
    dialog.show()
    spin(0.4)
    save(dialog, "dialog_merge_preview", size)
    dialog.close()


SMALL_CSV = """sourced_id,first_name,last_name,date_of_birth,grade,email
S1489257,Robinson,Aaliayh,2018-09-14,3,aaliayh.robinson@example.org
NEW-0001,Amelia,Okafor,2015-03-02,5,
NEW-0002,Ben,Lindqvist,2014-02-30,6,
NEW-0003,Chidi,Anand,2016-11-19,4,chidi.anand@example.org
"""


def shoot_import_preview(window: object, out: Path, size: tuple[int, int],
                         save: Callable[..., None], spin: Callable[[float], None]) -> None:
    """The preview of a five-line students CSV (a changed grade, new students, an impossible date), planned in a
    rolled-back transaction; shown without its Import button."""
    from classhub_desktop.core.progress import CancelToken, Progress
    from classhub_desktop.ui.roster.import_flow import build_preview
    from classhub_desktop.ui.roster.import_preview import ImportPreviewDialog

    session = window.session  # type: ignore[attr-defined]
    good = "\n".join(line for line in SMALL_CSV.splitlines() if "02-30" not in line) + "\n"
    for name, text in (("dialog_import_preview", good), ("dialog_import_problems", SMALL_CSV)):
        path = out / ".home" / "students.csv"
        path.write_text(text, encoding="utf-8")
        preview = build_preview(session.engine, path, None, progress=Progress(), cancel=CancelToken())
        dialog = ImportPreviewDialog(preview, window, can_apply=False,  # type: ignore[arg-type]
                                     why_not="Screenshots never import.")
        dialog.resize(min(dialog.width(), size[0] - 40), min(dialog.height(), size[1] - 60))
        dialog.show()
        spin(0.4)
        save(dialog, name, size)
        dialog.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
