"""`PagedTableModel.refresh`: the rows shown are fetched again in one query and swapped in when they arrive (the
view never goes blank); a failed refresh starts again from the first page; a reload supersedes a refresh."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication

from classhub_desktop.ui.common.paged_table import LoadState, PagedColumn, PagedTableModel, PagedTableView
from classhub_desktop.ui.tasks import TaskRunner, wait_all_tasks
from tests.ui.conftest import finish_ui_test


@pytest.fixture(autouse=True)
def _no_task_left(qapp: QApplication) -> Iterator[None]:
    yield
    assert finish_ui_test() == []


@dataclass(frozen=True)
class NumberPage:
    rows: list[int]
    next_cursor: int | None


def numbers(total: int, *, gate: threading.Event | None = None, offset: int = 0,
            limits: list[int] | None = None) -> Callable[[Any, int], NumberPage]:
    """A fetch function over offset..offset+total-1; with `gate`, each fetch waits until it is set."""

    def fetch(cursor: Any, limit: int) -> NumberPage:
        if limits is not None:
            limits.append(limit)
        if gate is not None:
            assert gate.wait(10)
        start = cursor or 0
        rows = [offset + i for i in range(start, min(total, start + limit))]
        return NumberPage(rows, start + limit if start + limit < total else None)

    return fetch


def failing(cursor: Any, limit: int) -> NumberPage:
    raise OSError("the server went away")


def shown(model: PagedTableModel[int]) -> list[int]:
    return [model.row(i) for i in range(model.rowCount())]


def test_refresh_fetches_the_loaded_rows_again_and_keeps_them_until_then(qtbot: Any, runner: TaskRunner) -> None:
    model: PagedTableModel[int] = PagedTableModel(runner, [PagedColumn("n", str)], page_size=10)
    view = PagedTableView()
    qtbot.addWidget(view)
    view.set_paged_model(model)
    view.show()
    with qtbot.waitSignal(model.sig_loaded, timeout=5_000):
        model.set_fetcher(numbers(100))
    with qtbot.waitSignal(model.sig_loaded, timeout=5_000):
        model.fetchMore()
    assert shown(model) == list(range(20))
    gate, limits = threading.Event(), list[int]()
    model.refresh(numbers(100, gate=gate, offset=500, limits=limits))  # what a write elsewhere changed
    assert model.refreshing and model.is_loading() and not model.canFetchMore()
    assert shown(model) == list(range(20)) and view.overlay_text() == ""  # the old rows stay, no "Loading…"
    with qtbot.waitSignal(model.sig_loaded, timeout=5_000):
        gate.set()
    assert limits == [20]  # one query for every row that was shown
    assert shown(model) == list(range(500, 520)) and model.state is LoadState.READY and not model.refreshing
    with qtbot.waitSignal(model.sig_loaded, timeout=5_000):
        model.fetchMore()  # paging goes on after the refreshed rows
    assert shown(model)[-1] == 529


def test_a_failed_refresh_starts_again_from_the_first_page(qtbot: Any, runner: TaskRunner) -> None:
    model: PagedTableModel[int] = PagedTableModel(runner, [PagedColumn("n", str)], page_size=10)
    with qtbot.waitSignal(model.sig_loaded, timeout=5_000):
        model.set_fetcher(numbers(30))
    with qtbot.waitSignal(model.sig_failed, timeout=5_000) as failed:
        model.refresh(failing)
    assert "the server went away" in failed.args[0]
    assert model.state is LoadState.ERROR and model.rowCount() == 0 and not model.refreshing
    with qtbot.waitSignal(model.sig_failed, timeout=5_000):
        model.retry()  # still failing: the same fetch function
    with qtbot.waitSignal(model.sig_loaded, timeout=5_000):
        model.set_fetcher(numbers(30))
    assert shown(model) == list(range(10))


def test_a_reload_supersedes_a_refresh_in_flight(qtbot: Any, runner: TaskRunner) -> None:
    model: PagedTableModel[int] = PagedTableModel(runner, [PagedColumn("n", str)], page_size=10)
    with qtbot.waitSignal(model.sig_loaded, timeout=5_000):
        model.set_fetcher(numbers(30))
    seen: list[list[int]] = []
    model.sig_loaded.connect(lambda _n: seen.append(shown(model)))
    gate = threading.Event()
    model.refresh(numbers(30, gate=gate, offset=700))
    with qtbot.waitSignal(model.sig_loaded, timeout=5_000):
        model.set_fetcher(numbers(30, offset=900))  # new filters while the refresh waits
    assert not model.refreshing
    gate.set()
    assert wait_all_tasks(5_000)
    for _ in range(3):
        QApplication.processEvents()
    assert seen == [list(range(900, 910))]  # the refresh's rows never showed up
