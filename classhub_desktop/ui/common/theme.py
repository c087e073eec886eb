"""Light and dark: which scheme the application shows, and colours that work in both.

Widgets decide "dark or light" from the palette they are drawn with (`is_dark`), not from the platform's
colour scheme: the palette is what the user sees, and some platforms (offscreen, older X11 desktops) report
no scheme at all while a dark palette is set. Colours that carry meaning come in pairs (`Pair`), one per
scheme; widgets that draw them re-apply their colours on `QEvent.PaletteChange` (see `palette_changed`).

`follow_color_scheme(app)` is meant to be called once at start (ui/app.py, after the Fusion style is set):
Fusion follows the platform's scheme on Qt >= 6.5 where the platform reports one; where it reports Dark
but the palette stays light, or when CLASSHUB_COLOR_SCHEME=dark|light asks for one, it sets our palette.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QWidget

Scheme = Literal["light", "dark"]
SCHEME_ENV = "CLASSHUB_COLOR_SCHEME"  # "dark" or "light" overrides the platform (screenshots, support)


def is_dark(palette: QPalette | None = None) -> bool:
    """Whether `palette` (default: the application's) draws light text on dark surfaces."""
    palette = palette if palette is not None else QGuiApplication.palette()
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def widget_is_dark(widget: QWidget) -> bool:
    """Whether `widget` is drawn on the dark scheme. Read from its parent's palette (else the application's): a
    widget's own style sheet changes its own palette, and its tinted fill must not decide the scheme."""
    parent = widget.parentWidget()
    return is_dark(parent.palette() if parent is not None else QGuiApplication.palette())


class SchemeFollower:
    """Re-style a widget only when the scheme really flipped: `changeEvent` sees a PaletteChange for every
    style sheet the widget sets on itself, and re-styling on each would recurse."""

    def __init__(self) -> None:
        self.dark: bool | None = None

    def flipped(self, widget: QWidget, event: QEvent | None = None) -> bool:
        if event is not None and not palette_changed(event):
            return False
        dark = widget_is_dark(widget)
        if dark == self.dark:
            return False
        self.dark = dark
        return True


@dataclass(frozen=True)
class Pair:
    """One colour per scheme (CSS names or #rrggbb)."""

    light: str
    dark: str

    def pick(self, dark: bool) -> str:
        return self.dark if dark else self.light

    def color(self, dark: bool) -> QColor:
        return QColor(self.pick(dark))


def palette_changed(event: QEvent) -> bool:
    """Whether `event` (a widget's changeEvent) means its palette, and so maybe its scheme, changed."""
    return event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange)


def dark_palette() -> QPalette:
    """A dark palette for the Fusion style (the colours of Qt's own Fusion dark scheme, Qt 6.5+)."""
    p = QPalette()
    window, base, text = QColor("#2d2d2d"), QColor("#1e1e1e"), QColor("#e6e6e6")
    disabled = QColor("#7f7f7f")
    roles = {
        QPalette.ColorRole.Window: window,
        QPalette.ColorRole.WindowText: text,
        QPalette.ColorRole.Base: base,
        QPalette.ColorRole.AlternateBase: QColor("#262626"),
        QPalette.ColorRole.ToolTipBase: QColor("#3c3c3c"),
        QPalette.ColorRole.ToolTipText: text,
        QPalette.ColorRole.PlaceholderText: QColor("#a0a0a0"),
        QPalette.ColorRole.Text: text,
        QPalette.ColorRole.Button: QColor("#353535"),
        QPalette.ColorRole.ButtonText: text,
        QPalette.ColorRole.BrightText: QColor("#ff6b6b"),
        QPalette.ColorRole.Light: QColor("#4a4a4a"),
        QPalette.ColorRole.Midlight: QColor("#3d3d3d"),
        QPalette.ColorRole.Mid: QColor("#5a5a5a"),
        QPalette.ColorRole.Dark: QColor("#1a1a1a"),
        QPalette.ColorRole.Shadow: QColor("#000000"),
        QPalette.ColorRole.Highlight: QColor("#2f65ca"),
        QPalette.ColorRole.HighlightedText: QColor("#ffffff"),
        QPalette.ColorRole.Link: QColor("#7fb2ff"),
        QPalette.ColorRole.LinkVisited: QColor("#c39bff"),
    }
    for role, colour in roles.items():
        p.setColor(role, colour)
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    return p


def apply_scheme(app: QApplication, scheme: Scheme) -> None:
    """Show `scheme` now: the dark palette, or the style's own (light) one."""
    if scheme == "dark":
        app.setPalette(dark_palette())
    else:
        app.setPalette(app.style().standardPalette())


def requested_scheme() -> Scheme | None:
    """The scheme CLASSHUB_COLOR_SCHEME asks for, else the platform's (None: it reports none)."""
    wanted = os.environ.get(SCHEME_ENV, "").strip().lower()
    if wanted in ("dark", "light"):
        return "dark" if wanted == "dark" else "light"
    scheme = QGuiApplication.styleHints().colorScheme()
    if scheme == Qt.ColorScheme.Dark:
        return "dark"
    if scheme == Qt.ColorScheme.Light:
        return "light"
    return None


def follow_color_scheme(app: QApplication) -> None:
    """At start (after the style is set): use the requested scheme, and follow the platform when it changes."""

    def update() -> None:
        scheme = requested_scheme()
        if scheme is not None and is_dark(app.palette()) != (scheme == "dark"):
            apply_scheme(app, scheme)

    update()
    if not os.environ.get(SCHEME_ENV):
        QGuiApplication.styleHints().colorSchemeChanged.connect(lambda _scheme: update())


# Message boxes inside pages (a result banner, an error under a form): (text, fill, border) per kind.
MESSAGE_TONES: dict[str, tuple[Pair, Pair, Pair]] = {
    "ok": (Pair("#1d5e20", "#a5d6a7"), Pair("#e9f6ea", "#1d3322"), Pair("#b7dfb9", "#3f7a45")),
    "warn": (Pair("#7a4b00", "#ffd77a"), Pair("#fff4d6", "#3a311c"), Pair("#f0d48a", "#8a6d1f")),
    "error": (Pair("#a61b1b", "#ff9e9e"), Pair("#fdecec", "#422326"), Pair("#f2b8b8", "#8a3a3a")),
}


def message_style(kind: str, dark: bool | None = None, padding: int = 5) -> str:
    """A style sheet for a QLabel used as a message ("ok", "warn", "error"); the scheme's colours."""
    dark = is_dark() if dark is None else dark
    text, fill, border = (pair.pick(dark) for pair in MESSAGE_TONES[kind])
    return f"color: {text}; background: {fill}; border: 1px solid {border}; border-radius: 4px; padding: {padding}px;"


def text_style(kind: str, dark: bool | None = None, bold: bool = False) -> str:
    """Coloured text without a box ("warn", "error"), readable on the scheme's window colour."""
    dark = is_dark() if dark is None else dark
    return f"color: {MESSAGE_TONES[kind][0].pick(dark)};" + (" font-weight: 600;" if bold else "")
