"""The bands in the candidate list (ui/duplicates/bands.py, candidates.py): each pair's band as a badge beside its
probability, possible twins flagged, the band filter with its counts, the evidence's badge; on made-up pairs
(every band, long names) and on a real scan of the seeded database.

Set CLASSHUB_SCREENSHOTS=1 to save /tmp/bands.png (the Duplicates page after a scan of the seeded database, with
long names) and /tmp/bands_list.png (the made-up list).
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator
from dataclasses import fields
from datetime import UTC, date, datetime
from typing import Any

import psycopg
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QStyleOptionViewItem

from classhub_desktop.core.duplicates.model import MATCH_PROBABILITY, POSSIBLE_PROBABILITY, Band
from classhub_desktop.core.duplicates.scoring import FieldEvidence, ScoredPair, StudentRecord
from classhub_desktop.ui.duplicates.bands import BADGE_ROLE, BAND_ROLE, TWINS_BADGE, BadgeDelegate, badge_text
from classhub_desktop.ui.duplicates.candidate_rows import COL_SCORE
from classhub_desktop.ui.duplicates.candidates import ALL_BANDS, CandidateList
from classhub_desktop.ui.duplicates.duplicates_view import DuplicatesView
from classhub_desktop.ui.duplicates.evidence import EvidenceView
from classhub_desktop.ui.tasks import TaskRunner
from classhub_desktop.workspace import Workspace
from tests.api_support import SeededDatabase
from tests.conftest import open_test_workspace

SCREENSHOTS = bool(os.environ.get("CLASSHUB_SCREENSHOTS"))
OP_TIMEOUT_MS = 30_000
SCAN_TIMEOUT_MS = 60_000
NOW = datetime(2026, 9, 1, tzinfo=UTC)


def record(student_id: int, first: str, last: str, born: date | None = date(2014, 5, 17)) -> StudentRecord:
    values: dict[str, Any] = {f.name: None for f in fields(StudentRecord)}
    values.update(id=student_id, first_name=first, last_name=last, date_of_birth=born, status="active",
                  created_at=NOW, updated_at=NOW)
    return StudentRecord(**values)


def pair(a: int, b: int, score: float, twins: bool = False) -> ScoredPair:
    evidence = (FieldEvidence("date_of_birth", 1.0, 9.5, "date of birth: same"),
                FieldEvidence("first_name", 0.9, 3.0, "first name: similar"))
    return ScoredPair(a=a, b=b, score=score, evidence=evidence, possible_twins=twins, blocked_by=("birth date + name",))


RECORDS = {
    1: record(1, "Maximiliane Alexandra-Josefine", "Wolfeschlegelsteinhausen-Bergerdorff"),
    2: record(2, "Maximiliane", "Wolfeschlegelsteinhausen"),
    3: record(3, "Andrés", "Hernández", date(2011, 7, 19)),
    4: record(4, "Andrsé", "Hernández", date(2011, 7, 19)),
    5: record(5, "Emma", "Johansson", date(2012, 3, 4)),
    6: record(6, "Ella", "Johansson", date(2012, 3, 4)),
    7: record(7, "Chloe", "Williams", date(2013, 1, 2)),
    8: record(8, "Chloé", "Williams-Okafor", None),
    9: record(9, "Nguyễn Thị", "Minh Anh", date(2015, 11, 30)),
    10: record(10, "Minh Anh", "Nguyen", date(2015, 11, 30)),
}
PAIRS = [
    pair(1, 2, 0.973),  # match
    pair(3, 4, MATCH_PROBABILITY),  # match (at the threshold)
    pair(5, 6, 0.62, twins=True),  # possible, twins
    pair(7, 8, 0.71),  # possible
    pair(9, 10, 0.31),  # non-match (shown under a low minimum)
]


@pytest.fixture
def listed(qtbot: Any) -> CandidateList:
    widget = CandidateList()
    qtbot.addWidget(widget)
    widget.resize(1180, 260)
    widget.show()
    widget.model.set_pairs(PAIRS, RECORDS)
    widget.apply_filter()
    return widget


def bands_shown(widget: CandidateList) -> list[Band]:
    proxy = widget.proxy
    return [proxy.index(row, COL_SCORE).data(BAND_ROLE) for row in range(proxy.rowCount())]


def test_every_pair_shows_its_band_badge_and_probability(listed: CandidateList) -> None:
    proxy = listed.proxy
    assert [p.band for p in listed.visible_pairs()] == [Band.MATCH, Band.MATCH, Band.POSSIBLE, Band.POSSIBLE,
                                                        Band.NON_MATCH]  # best first
    texts = {}
    for row, shown in enumerate(listed.visible_pairs()):
        index = proxy.index(row, COL_SCORE)
        assert index.data() == f"{shown.score:.2f}"  # the probability
        assert index.data(BAND_ROLE) == shown.band
        text, fill, ink = index.data(BADGE_ROLE)
        texts[(shown.a, shown.b)] = text
        assert fill != ink
        assert f"{shown.band.value} band" in index.data(Qt.ItemDataRole.ToolTipRole)  # the tooltip names it
    assert texts == {(1, 2): "Match", (3, 4): "Match", (5, 6): TWINS_BADGE, (7, 8): "Possible", (9, 10): "Non-match"}
    twins_row = next(row for row, p in enumerate(listed.visible_pairs()) if p.possible_twins)
    assert "Possible twins" in proxy.index(twins_row, COL_SCORE).data(Qt.ItemDataRole.ToolTipRole)
    assert isinstance(listed.table.itemDelegateForColumn(COL_SCORE), BadgeDelegate)
    # the badge fits beside the number: the column is wide enough for "Non-match  0.31"
    option = QStyleOptionViewItem()
    option.initFrom(listed.table)
    hint = listed.table.itemDelegateForColumn(COL_SCORE).sizeHint(option, proxy.index(4, COL_SCORE))
    assert hint.width() <= listed.table.columnWidth(COL_SCORE)
    assert listed.count_label.text() == "5 pairs · 2 match · 2 possible · 1 non-match · 1 possible twins"
    if SCREENSHOTS:
        QApplication.processEvents()
        listed.grab().save("/tmp/bands_list.png")


def test_the_band_filter_shows_one_band_with_its_counts(listed: CandidateList) -> None:
    combo = listed.band_combo
    assert [combo.itemText(i) for i in range(combo.count())] == [ALL_BANDS, "Match (2)", "Possible (2)",
                                                                 "Non-match (1)"]
    listed.set_band(Band.MATCH)
    assert bands_shown(listed) == [Band.MATCH, Band.MATCH]
    assert listed.count_label.text().startswith("2 of 5 pairs")
    listed.set_band(Band.POSSIBLE)
    assert bands_shown(listed) == [Band.POSSIBLE, Band.POSSIBLE]
    listed.twins_check.setChecked(False)  # the filters combine
    assert [(p.a, p.b) for p in listed.visible_pairs()] == [(7, 8)]
    listed.set_band(Band.NON_MATCH)
    listed.score_spin.setValue(POSSIBLE_PROBABILITY)  # and the minimum probability
    assert listed.proxy.rowCount() == 0
    listed.clear_filter()
    assert listed.band() is None and combo.currentText() == ALL_BANDS
    assert listed.proxy.rowCount() == 4  # the minimum stays: it is not a filter the page clears
    # after a pair leaves the list, the counts follow
    listed.model.remove_pairs([(1, 2)])
    listed.update_count()
    assert combo.itemText(1) == "Match (1)"


def test_the_evidence_shows_the_band_badge(qtbot: Any) -> None:
    view = EvidenceView()
    qtbot.addWidget(view)
    view.show()
    view.set_pair(PAIRS[2])
    assert view.band_label.isVisible() and view.band_label.text() == TWINS_BADGE
    assert view.twins_label.isVisible() and "possible band" in view.band_label.toolTip()
    view.set_pair(PAIRS[0])
    assert view.band_label.text() == "Match" and view.score_label.text() == "Score 0.97"
    view.set_pair(None)
    assert not view.band_label.isVisible()


# --- a real scan --------------------------------------------------------------------------------------


@pytest.fixture
def fresh_session(fresh_seeded_db: SeededDatabase) -> Iterator[Workspace]:
    s = open_test_workspace("Fresh", fresh_seeded_db.conninfo)
    yield s
    s.close()


@pytest.mark.usefixtures("no_task_or_dialog_left")
def test_a_real_scan_lists_every_pair_with_its_band(
    qtbot: Any, runner: TaskRunner, fresh_session: Workspace, fresh_seeded_db: SeededDatabase
) -> None:
    db = fresh_seeded_db
    # long names on a true duplicate pair, as some rosters have (both records: still one child)
    with psycopg.connect(db.conninfo, autocommit=True) as conn:
        conn.execute("UPDATE students SET first_name = 'Maximiliane Alexandra-Josefine',"
                     " last_name = 'Wolfeschlegelsteinhausen-Bergerdorff' WHERE id = ANY(%s)",
                     (list(db.truth["duplicate_students"][0]),))
    view = DuplicatesView(runner)
    qtbot.addWidget(view)
    view.resize(1280, 800)
    view.show()
    with qtbot.waitSignal(view.history.sig_loaded, timeout=OP_TIMEOUT_MS):
        view.set_session(fresh_session)
    view.candidates.score_spin.setValue(0.05)  # weak pairs and possible twins too
    with qtbot.waitSignal(view.sig_scan_done, timeout=SCAN_TIMEOUT_MS):
        view.scan_button.click()
    assert view.result is not None and view.result.pairs
    proxy = view.candidates.proxy
    for row, shown in enumerate(view.candidates.visible_pairs()):
        index = proxy.index(row, COL_SCORE)
        assert index.data(BAND_ROLE) == shown.band and index.data() == f"{shown.score:.2f}"
        assert (index.data(BADGE_ROLE)[0] == TWINS_BADGE) == shown.possible_twins
    counts = {band: sum(1 for p in view.result.pairs if p.band == band) for band in Band}
    for band, count in counts.items():
        view.candidates.set_band(band)
        assert view.candidates.proxy.rowCount() == count
    view.candidates.set_band(None)
    first = view.candidates.visible_pairs()[0]
    view.candidates.select_row(0)
    assert view.comparison.pair == first and view.comparison.evidence.band_label.text() == badge_text(first)
    if SCREENSHOTS:
        QApplication.processEvents()
        view.grab().save("/tmp/bands.png")
