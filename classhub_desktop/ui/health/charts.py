"""Charts of the locally stored health samples (QtCharts): connections, cache hit ratio, API latency,
API error rate and failed jobs (a rolling 24-hour count), over the last 24 hours or 7 days (a range switch).

The page queries the sample store on a worker and hands the points to `HealthCharts.set_data`; this
module only draws. Surfaces and text come from the palette (light or dark); line colours are fixed hues,
lightened on a dark surface, and every series is named in a legend, so a chart reads without colour too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from PySide6.QtCharts import QChart, QChartView, QDateTimeAxis, QLineSeries, QValueAxis
from PySide6.QtCore import QDateTime, QEvent, QMargins, QPointF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPalette, QPen, QResizeEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from classhub_desktop.offline.health_samples import Aggregate, Point
from classhub_desktop.ui.common.theme import is_dark, palette_changed

DAY_S = 24 * 3600
WIDE_CHARTS_PX = 1150  # from this width three charts a row keep their legends whole
RANGES: dict[str, int] = {"24 hours": DAY_S, "7 days": 7 * DAY_S}
MAX_POINTS = {DAY_S: 720, 7 * DAY_S: 1008}  # 2-minute buckets for a day, 10-minute buckets for a week


ABOUT_TEXT = (
    "About these charts\n\n"
    "The page samples the database and the API every 10 seconds while it is open (it pauses while "
    "another page is shown), so a gap means nobody was looking, not that the server was down.\n\n"
    "Peaks are kept when the range is condensed: connections and latency show the highest value of "
    "each interval, the cache hit ratio the lowest.\n\n"
    "The failures chart is a rolling count: each point is the number of class generations and "
    "notifications that failed in the 24 hours before it, so one bad night stays visible for a day.\n\n"
    "Samples are kept for 8 days on this computer, in {path}."
)


@dataclass(frozen=True)
class Line:
    metric: str
    label: str
    colour: str
    aggregate: Aggregate = "avg"
    dashed: bool = False


@dataclass(frozen=True)
class ChartSpec:
    key: str
    title: str
    unit: str
    lines: tuple[Line, ...]
    label_format: str = "%.0f"
    y_floor: float = 0.0
    y_ceiling: float | None = None  # a fixed top (percentages)
    y_min_span: float = 1.0


CHARTS: tuple[ChartSpec, ...] = (
    ChartSpec("connections", "Database connections", "connections", (
        Line("connections_used", "In use (peak)", "#1565c0", "max"),
        Line("connections_max", "Limit", "#c62828", "max", dashed=True),
        Line("idle_in_transaction", "Idle in transaction", "#ef6c00", "max"),
    )),
    ChartSpec("cache_hit", "Cache hit ratio", "%", (
        Line("cache_hit_ratio", "Hit ratio (lowest)", "#2e7d32", "min"),
    ), label_format="%.1f", y_ceiling=100.0, y_min_span=2.0),
    ChartSpec("api_latency", "API latency", "ms", (
        Line("api_healthz_ms", "/healthz round trip", "#6a1b9a", "max"),
        Line("api_request_mean_ms", "Mean request time (server)", "#00838f", "avg"),
    ), y_min_span=10.0),
    ChartSpec("api_errors", "API error rate", "% of requests", (
        Line("api_error_rate", "5xx responses", "#c62828", "max"),
    ), label_format="%.1f", y_min_span=2.0),
    ChartSpec("failed_jobs", "Failed jobs (rolling 24-hour count)", "failures in 24 h", (
        Line("failed_generations_24h", "Class generations", "#ad1457", "max"),
        Line("failed_notifications_24h", "Notifications", "#4e342e", "max"),
    ), y_min_span=4.0),
)


def chart_metrics() -> dict[str, Aggregate]:
    """Every metric the charts draw and how to downsample it (for HealthSampleStore.query_many)."""
    return {line.metric: line.aggregate for spec in CHARTS for line in spec.lines}


def line_colour(colour: str, dark: bool) -> QColor:
    """The line's colour, lightened on a dark surface until it reads there (same hue, so the legend holds)."""
    result = QColor(colour)
    if dark:
        result.setHsl(result.hslHue(), min(result.hslSaturation(), 200), max(result.lightness(), 165), result.alpha())
    return result


class _Chart:
    def __init__(self, spec: ChartSpec, parent: QWidget) -> None:
        self.spec = spec
        chart = QChart()
        chart.setTheme(QChart.ChartTheme.ChartThemeLight)
        chart.setAnimationOptions(QChart.AnimationOption.NoAnimation)
        chart.setMargins(QMargins(4, 4, 4, 4))
        chart.setBackgroundRoundness(4)
        title_font = QFont(parent.font())
        title_font.setBold(True)
        chart.setTitleFont(title_font)
        chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        chart.legend().setFont(parent.font())
        self.x_axis = QDateTimeAxis()
        self.x_axis.setTickCount(7)
        self.y_axis = QValueAxis()
        self.y_axis.setLabelFormat(spec.label_format)
        self.y_axis.setTitleText(spec.unit)
        for axis in (self.x_axis, self.y_axis):
            axis.setLabelsFont(parent.font())
        chart.addAxis(self.x_axis, Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(self.y_axis, Qt.AlignmentFlag.AlignLeft)
        self.series: dict[str, QLineSeries] = {}
        for line in spec.lines:
            series = QLineSeries()
            series.setName(line.label)
            chart.addSeries(series)
            series.attachAxis(self.x_axis)
            series.attachAxis(self.y_axis)
            self.series[line.metric] = series
        self.chart = chart
        self.view = QChartView(chart, parent)
        self.view.setObjectName(f"chart_{spec.key}")
        self.view.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.view.setMinimumSize(260, 240)  # the axis titles ("connections") need the height
        self.apply_palette(parent.palette())

    def apply_palette(self, palette: QPalette) -> None:
        """Surfaces, text and grid from the palette (a light chart would glare in a dark window); line colours
        from `line_colour`, so each stays distinct and readable on that surface."""
        dark = is_dark(palette)
        text = palette.color(QPalette.ColorRole.Text)
        chart = self.chart
        chart.setBackgroundBrush(palette.color(QPalette.ColorRole.Base))
        chart.setBackgroundPen(QPen(palette.color(QPalette.ColorRole.Mid)))
        chart.setTitleBrush(text)
        chart.legend().setLabelColor(text)
        grid = palette.color(QPalette.ColorRole.Mid if dark else QPalette.ColorRole.Midlight)
        for axis in (self.x_axis, self.y_axis):
            axis.setLabelsColor(text)
            axis.setTitleBrush(text)
            axis.setLinePenColor(palette.color(QPalette.ColorRole.Mid))
            axis.setGridLineColor(grid)
        for line in self.spec.lines:
            colour = line_colour(line.colour, dark)
            pen = QPen(colour)
            pen.setWidthF(2.0)
            if line.dashed:
                pen.setStyle(Qt.PenStyle.DashLine)
            series = self.series[line.metric]
            series.setPen(pen)
            series.setColor(colour)
        self.view.setBackgroundBrush(palette.color(QPalette.ColorRole.Window))

    def set_points(self, data: Mapping[str, Sequence[Point]], start: float, end: float) -> int:
        values: list[float] = []
        total = 0
        for line in self.spec.lines:
            points = data.get(line.metric, ())
            series = self.series[line.metric]
            series.replace([QPointF(p.ts * 1000.0, p.value) for p in points])
            series.setPointsVisible(0 < len(points) < 40)  # a lone sample is a dot, not an invisible line
            values.extend(p.value for p in points)
            total += len(points)
        day = end - start <= DAY_S + 60
        self.x_axis.setFormat("HH:mm" if day else "ddd")  # before the range: the labels are made then
        self.x_axis.setTickCount(7 if day else 8)  # every 4 hours / every day
        self.x_axis.setRange(QDateTime.fromMSecsSinceEpoch(int(start * 1000)),
                             QDateTime.fromMSecsSinceEpoch(int(end * 1000)))
        spec = self.spec
        low = min([spec.y_floor, *values]) if spec.y_ceiling is None else min(values, default=spec.y_floor)
        high = max(values, default=low + spec.y_min_span)
        if spec.y_ceiling is not None:
            high = spec.y_ceiling
            low = max(spec.y_floor, min(low, high - spec.y_min_span))
        elif high - low < spec.y_min_span:
            high = low + spec.y_min_span
        else:
            high += (high - low) * 0.08  # headroom above the peak
        self.y_axis.setRange(low, high)
        if spec.y_ceiling is None:
            self.y_axis.applyNiceNumbers()
        self.chart.setTitle(spec.title if total else f"{spec.title} — no samples in this range yet")
        return total


class HealthCharts(QWidget):
    """The five charts and the range switch; `sig_range_changed(seconds)` asks the page for new data."""

    sig_range_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("healthCharts")
        self.range_s = DAY_S
        self.range_buttons: dict[int, QToolButton] = {}
        group = QButtonGroup(self)
        group.setExclusive(True)
        top = QHBoxLayout()
        top.addWidget(QLabel("Show the last"))
        for text, seconds in RANGES.items():
            button = QToolButton()
            button.setText(text)
            button.setCheckable(True)
            button.setChecked(seconds == self.range_s)
            button.setObjectName(f"range_{seconds}")
            button.clicked.connect(lambda _=False, s=seconds: self.set_range(s))
            group.addButton(button)
            top.addWidget(button)
            self.range_buttons[seconds] = button
        top.addStretch(1)
        self.note = QLabel("")
        self.note.setObjectName("countLabel")
        top.addWidget(self.note)
        grid = QGridLayout()
        grid.setSpacing(6)
        self.charts: dict[str, _Chart] = {}
        for spec in CHARTS:
            chart = _Chart(spec, self)
            self.charts[spec.key] = chart
        self.about = QLabel(ABOUT_TEXT.format(path="the data folder"))
        self.about.setObjectName("chartsAbout")
        self.about.setWordWrap(True)
        self.about.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.about.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.about.setContentsMargins(12, 12, 12, 12)
        self.grid = grid
        self.columns = 0
        self._reflow(3)
        # The grid scrolls instead of making the window taller or wider than a small screen.
        grid_widget = QWidget()
        grid_widget.setLayout(grid)
        grid.setContentsMargins(0, 0, 0, 0)
        self.chart_scroll = QScrollArea()
        self.chart_scroll.setObjectName("chartsScroll")
        self.chart_scroll.setWidgetResizable(True)
        self.chart_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.chart_scroll.setWidget(grid_widget)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.chart_scroll, 1)

    def _reflow(self, columns: int) -> None:
        """Three charts a row on a wide window, two on a narrow one (legends and axis titles stay whole)."""
        if columns == self.columns:
            return
        self.columns = columns
        cells: list[QWidget] = [chart.view for chart in self.charts.values()] + [self.about]
        for widget in cells:
            self.grid.removeWidget(widget)
        for index, widget in enumerate(cells):
            self.grid.addWidget(widget, index // columns, index % columns)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._reflow(3 if event.size().width() >= WIDE_CHARTS_PX else 2)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if palette_changed(event) and hasattr(self, "charts"):  # no style sheet of its own: no recursion
            for chart in self.charts.values():
                chart.apply_palette(self.palette())

    def set_store_path(self, path: str) -> None:
        self.about.setText(ABOUT_TEXT.format(path=path))

    def set_range(self, seconds: int) -> None:
        if seconds not in self.range_buttons:
            raise ValueError(f"unknown chart range {seconds} s")
        self.range_buttons[seconds].setChecked(True)
        if seconds != self.range_s:
            self.range_s = seconds
            self.sig_range_changed.emit(seconds)

    def max_points(self) -> int:
        return MAX_POINTS[self.range_s]

    def set_data(self, data: Mapping[str, Sequence[Point]], start: float, end: float) -> int:
        """Draw the points of every chart between start and end (UNIX seconds); returns points drawn."""
        drawn = sum(chart.set_points(data, start, end) for chart in self.charts.values())
        self.note.setText("" if drawn else "Samples are collected while this page is open.")
        return drawn

    def points(self, key: str, metric: str) -> list[tuple[float, float]]:
        """The drawn points of one line (tests): (UNIX seconds, value)."""
        series = self.charts[key].series[metric]
        return [(p.x() / 1000.0, p.y()) for p in series.points()]
