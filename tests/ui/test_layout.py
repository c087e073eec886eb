"""The main window fits a small screen (1280×720, and 150 % scaling on 1920×1080: ~1280×650 available), and the
dark palette leaves no light surface on the Health page (issue 13, items 6 and 8)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QToolButton

from classhub_desktop.core.health.model import Evidence, Finding, Status
from classhub_desktop.ui.common.theme import SCHEME_ENV, apply_scheme, dark_palette, follow_color_scheme, is_dark
from classhub_desktop.ui.health.charts import HealthCharts
from classhub_desktop.ui.health.evidence import EvidencePanel
from classhub_desktop.ui.health.tiles import HealthTile, tone_for
from classhub_desktop.workspace import Workspace
from tests.api_support import SeededDatabase
from tests.conftest import open_test_workspace
from tests.ui.conftest import OP_TIMEOUT_MS, new_main_window

SMALL_SCREEN = (1280, 650)  # 1920×1080 at 150 %, less the title bar and the taskbar


@pytest.fixture(scope="module")
def session(seeded_db: SeededDatabase) -> Iterator[Workspace]:
    workspace = open_test_workspace("Layout", seeded_db.conninfo)
    yield workspace
    workspace.close()


def fits(hint: Any, width: int, height: int) -> bool:
    return bool(hint.width() <= width and hint.height() <= height)


def test_the_main_window_fits_1280_by_650_on_every_page(qtbot: Any, tmp_path: Path, session: Workspace) -> None:
    window = new_main_window(qtbot, tmp_path)
    assert fits(window.minimumSizeHint(), *SMALL_SCREEN), window.minimumSizeHint()  # not connected
    window.set_session(session)
    assert window.windowTitle().startswith("Layout — ") and "/" not in window.windowTitle()  # no socket path
    refresh_buttons = [b for b in window.pages["roster"].findChildren(QToolButton) if b.text() == "Refresh"]
    assert len(refresh_buttons) == 1  # the page's; the Teachers tab has none of its own
    window.resize(*SMALL_SCREEN)
    window.show()
    students = window.pages["roster"].students  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: students.model.loaded_count() > 0, timeout=OP_TIMEOUT_MS)
    # No student chosen: the empty detail panel gives its room to the list.
    assert not students.detail.isVisible()
    assert students.table.width() > 0.9 * students.splitter.width()
    with qtbot.waitSignal(students.detail.sig_loaded, timeout=OP_TIMEOUT_MS):
        students.table.selectRow(0)
    assert students.detail.isVisible()
    detail = students.detail
    for empty_list in (detail.uploads, detail.merges, detail.aliases, detail.audit):
        if empty_list.rowCount() == 0:  # says so ("Never merged.") instead of a bare table
            detail.tabs.setCurrentWidget(empty_list)
            assert empty_list.empty and _paints_text(empty_list)
    tabs = students.detail.tabs.tabBar()
    assert sum(tabs.tabRect(i).width() for i in range(tabs.count())) <= tabs.width()  # every tab shown whole
    roster = window.pages["roster"]
    with qtbot.waitSignal(roster.teachers.sig_loaded, timeout=OP_TIMEOUT_MS):  # type: ignore[attr-defined]
        roster.tabs.setCurrentWidget(roster.teachers)  # type: ignore[attr-defined]
    # Loaded choices (the schools' names) must not widen the window either.
    assert fits(window.minimumSizeHint(), *SMALL_SCREEN), f"teachers: {window.minimumSizeHint()}"
    roster.tabs.setCurrentWidget(roster.blocks)  # type: ignore[attr-defined]
    for key in window.pages:
        window.show_page(key)
        qtbot.wait(50)  # a page's first layout
        if key == "health":  # its findings' texts (tiles, banner, evidence) must not widen the window
            health: Any = window.pages[key]
            qtbot.waitUntil(lambda health=health: bool(health.findings), timeout=OP_TIMEOUT_MS)
        hint = window.minimumSizeHint()
        assert fits(hint, *SMALL_SCREEN), f"{key}: minimum {hint.width()}×{hint.height()}"
        assert (window.width(), window.height()) == SMALL_SCREEN, key
    duplicates: Any = window.pages["duplicates"]
    window.show_page("duplicates")
    with qtbot.waitSignal(duplicates.sig_scan_done, timeout=60_000):
        duplicates.scan()
    # A scan's counts and the first pair's comparison must not widen the window.
    assert fits(window.minimumSizeHint(), *SMALL_SCREEN), f"after a scan: {window.minimumSizeHint()}"
    window.set_session(None)


def _paints_text(table: Any) -> bool:
    """Whether the empty table's viewport shows more than its background (the empty message)."""
    image = table.viewport().grab().toImage()
    background = image.pixelColor(2, 2)
    return any(image.pixelColor(x, y) != background
               for y in range(0, min(image.height(), 60), 2) for x in range(0, image.width(), 3))


def _finding(status: Status) -> Finding:
    return Finding(id="t.check", area="postgres", title="A check", status=status, fix="Do something.",
                   evidence=Evidence(summary="Something happened.", figures={}, source="SELECT 1"), duration_ms=1.0)


def _background(widget: Any) -> QColor:
    """The colour the widget's own style sheet paints its background with (a tile or a banner)."""
    image = widget.grab().toImage()
    colour: QColor = image.pixelColor(image.width() - 4, image.height() // 2)
    return colour


@pytest.fixture
def dark_app(qapp: QApplication) -> Iterator[QApplication]:
    previous = qapp.palette()
    apply_scheme(qapp, "dark")
    yield qapp
    qapp.setPalette(previous)


def test_dark_palette_gives_dark_tiles_and_charts(qtbot: Any, dark_app: QApplication) -> None:
    window_colour = dark_app.palette().color(QPalette.ColorRole.Window)
    assert is_dark(dark_palette()) and is_dark(dark_app.palette())
    for status in (None, Status.OK, Status.WARN, Status.ERROR, Status.CRITICAL):
        tile = HealthTile("postgres")
        qtbot.addWidget(tile)
        tile.resize(260, 120)
        if status is None:
            tile.set_message("Checking…")
        else:
            tile.set_findings([_finding(status)])
        tone = tone_for(status, dark=True)
        assert tone.background in tile.styleSheet()
        painted = _background(tile)
        assert painted.lightness() < window_colour.lightness() + 40, (status, painted.name())
        # Readable: the text is far lighter than the fill, and the status is said in words too.
        assert QColor(tone.foreground).lightness() - QColor(tone.background).lightness() > 100
        assert tile.status_label.text()
    charts = HealthCharts()
    qtbot.addWidget(charts)
    charts.resize(900, 600)
    charts.set_data({}, time.time() - 3600, time.time())
    for chart in charts.charts.values():
        background = chart.chart.backgroundBrush().color()
        assert background.lightness() <= window_colour.lightness() + 20, background.name()
        assert chart.chart.titleBrush().color().lightness() > 160
        for series in chart.series.values():
            assert series.pen().color().lightness() >= 150  # lines read on the dark surface
    evidence = EvidencePanel()
    qtbot.addWidget(evidence)
    evidence.set_findings("postgres", [_finding(Status.CRITICAL)])
    assert tone_for(Status.CRITICAL, dark=True).background in evidence.title_label.styleSheet()


def test_switching_back_to_light_repaints_the_tiles(qtbot: Any, qapp: QApplication) -> None:
    previous = qapp.palette()
    tile = HealthTile("postgres")
    qtbot.addWidget(tile)
    tile.set_findings([_finding(Status.WARN)])
    try:
        apply_scheme(qapp, "dark")
        qapp.processEvents()
        assert tone_for(Status.WARN, dark=True).background in tile.styleSheet()
        apply_scheme(qapp, "light")
        qapp.processEvents()
        assert tone_for(Status.WARN, dark=False).background in tile.styleSheet()
    finally:
        qapp.setPalette(previous)


def test_follow_color_scheme_takes_the_requested_scheme(qapp: QApplication, monkeypatch: pytest.MonkeyPatch) -> None:
    previous = qapp.palette()
    try:
        monkeypatch.setenv(SCHEME_ENV, "dark")
        follow_color_scheme(qapp)
        assert is_dark(qapp.palette())
        monkeypatch.setenv(SCHEME_ENV, "light")
        follow_color_scheme(qapp)
        assert not is_dark(qapp.palette())
    finally:
        qapp.setPalette(previous)
