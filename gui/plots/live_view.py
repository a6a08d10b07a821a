"""One live plot as a native pyqtgraph widget, drawn from a ``spec.PlotSpec``.

Native drawing is what makes the plots keep up: a refresh is a few ``setData``
calls on curves that already exist (they are rebuilt only when what is drawn
changes: another filter, route or palette), painted by Qt at the screen's own
resolution, so they are crisp at any device pixel ratio and redraw on resize.
Colours come from the widget's palette and are lightened on a dark one.
"""

from __future__ import annotations

from html import escape
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QBrush, QColor, QFont, QPainter, QPalette, QPen
from PySide6.QtWidgets import QMenu, QSizePolicy, QWidget

from gui.plots.spec import TITLES, Panel, PlotSpec, readable

LEGEND_PX = 118
AXIS_PX = 56
TWO_PART = ("pools", "messages", "resources")
FAULT_TEXT = "#5c4033"
FAULT_TEXT_DARK = "#e9c9a8"
CURSOR = "#1d3557"


def _qcolor(colour: str, alpha: float = 1.0) -> QColor:
    c = QColor(colour)
    c.setAlphaF(alpha)
    return c


def _shrinkable(label: pg.LabelItem) -> None:
    """Let a long title be cut at the plot's width instead of widening the plot past its
    widget (which pushed the legend out of sight)."""
    measure = label.updateMin

    def update_min() -> None:
        measure()
        label.setMinimumWidth(0)

    label.updateMin = update_min
    label.setFlag(label.GraphicsItemFlag.ItemClipsChildrenToShape)
    label.setMinimumWidth(0)


class LogAxis(pg.AxisItem):
    """A log axis labelled 1, 2, 5 × 10ⁿ in plain numbers ("20", "500", "2000"): pyqtgraph's
    own labels every minor tick, and they run into one another."""

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        if not self.logMode:
            return super().tickStrings(values, scale, spacing)
        out = []
        for v in values:
            x = 10.0**v
            mantissa = x / 10.0 ** np.floor(np.log10(x))
            keep = min(abs(mantissa - m) for m in (1.0, 2.0, 5.0)) < 1e-6
            out.append(f"{x:g}" if keep else "")
        return out


class Overlay(pg.GraphicsObject):
    """What sits at a fixed place on the plot's face, whatever the y range or scale: the
    hatched "no answers" strips at the foot and the fault names at the top. Painted in
    device pixels, so the hatching and text stay sharp."""

    def __init__(self) -> None:
        super().__init__()
        self.bands: list[tuple[float, float, QColor, str]] = []
        self.labels: list[tuple[float, str]] = []
        self.label_colour = QColor(FAULT_TEXT)
        self.back = QColor("white")  # behind a band's name: the plot's background, see-through
        self.setZValue(20)

    def set_marks(self, bands: list[tuple[float, float, QColor, str]],
                  labels: list[tuple[float, str]], label_colour: QColor,
                  back: QColor) -> None:  # fmt: skip
        marks = (bands, labels, label_colour, back)
        if marks != (self.bands, self.labels, self.label_colour, self.back):
            self.bands, self.labels, self.label_colour, self.back = marks
            self.update()

    def boundingRect(self) -> QRectF:
        view = self.getViewBox()
        return QRectF(view.viewRect()) if view is not None else QRectF()

    def viewRangeChanged(self) -> None:
        self.prepareGeometryChange()
        self.update()

    def paint(self, painter: QPainter, *args: Any) -> None:
        view = self.getViewBox()
        if view is None or not (self.bands or self.labels):
            return
        area = view.viewRect()
        transform = painter.transform()
        device = transform.mapRect(area)
        mid = area.center().y()
        painter.save()
        painter.resetTransform()
        font = QFont(painter.font())
        font.setPointSizeF(7.5)
        painter.setFont(font)
        height = painter.fontMetrics().height()
        row = float(height + 2)  # one row per route without answers, hatched, its name on it
        for i, (start, end, colour, text) in enumerate(self.bands):
            # bands of several routes at the same time: one row above the other, each named
            level = sum(1 for s, e, *_ in self.bands[:i] if s < end and start < e)
            x0 = transform.map(QPointF(start, mid)).x()
            x1 = transform.map(QPointF(end, mid)).x()
            strip = QRectF(x0, device.bottom() - (level + 1) * row, max(x1 - x0, 1.0), row)
            painter.fillRect(strip, QBrush(colour, Qt.BrushStyle.BDiagPattern))
            label = painter.fontMetrics().boundingRect(text.strip())
            back = QRectF(x0 + 2, strip.top() + 1, label.width() + 6, row - 2)
            painter.fillRect(back, self.back)
            painter.setPen(QPen(colour))
            painter.drawText(back, Qt.AlignmentFlag.AlignCenter, text.strip())
        painter.setPen(QPen(self.label_colour))
        for i, (start, text) in enumerate(self.labels):
            x = transform.map(QPointF(start, mid)).x()
            painter.drawText(QPointF(x + 3, device.top() + height * (1 + i % 3)), text)
        painter.restore()


class PanelItems:
    """The items of one panel (one PlotItem) that a refresh updates in place."""

    def __init__(self, plot: pg.PlotItem, side: pg.GraphicsLayout) -> None:
        self.plot = plot
        self.side = side
        self.curves: dict[str, pg.PlotCurveItem] = {}
        self.log = False  # curves hold log10 of the values: the axis then labels 10**y
        self.fills: dict[str, tuple[pg.PlotCurveItem, pg.PlotCurveItem]] = {}
        self.bars: pg.BarGraphItem | None = None
        self.cursor = pg.InfiniteLine(angle=90, movable=False)
        self.cursor.setZValue(30)
        plot.addItem(self.cursor, ignoreBounds=True)
        self.overlay = Overlay()
        plot.addItem(self.overlay, ignoreBounds=True)
        self.empty = pg.TextItem(anchor=(0.5, 0.5))
        self.title = ""


class PlotView(pg.GraphicsLayoutWidget):
    """One plot (one or two panels sharing their x axis, legends on the right)."""

    save_requested = Signal(str, str)  # kind, "png" | "svg"

    def __init__(self, kind: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.kind = kind
        self.error: str | None = None
        self.frames = 0
        self.spec: PlotSpec | None = None
        self.panels: list[PanelItems] = []
        self._structure: tuple | None = None
        self._pending: PlotSpec | None = None
        self._dark: bool | None = None
        # the two-part plots need the height of two
        self.setMinimumSize(QSize(260, 270 if kind in TWO_PART else 190))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setToolTip(f"{TITLES[kind]}: drag or Ctrl+wheel to pan and zoom time (every plot "
                        "follows), double-click to see the whole run; right-click to save as PNG "
                        "or SVG")  # fmt: skip
        self.ci.layout.setContentsMargins(2, 2, 2, 2)
        self.ci.layout.setSpacing(0)
        self._placeholder = pg.LabelItem(f"{TITLES[kind]} (run the scenario to see it)")
        self.ci.addItem(self._placeholder)
        self._apply_palette()

    # -- drawing -------------------------------------------------------------------------------

    @property
    def shown_time(self) -> float | None:
        """The simulated time at the end of the last bucket drawn (None: nothing drawn)."""
        spec = self.spec
        if spec is None:
            return None
        times = [
            float(2 * line.x[-1] - line.x[-2])
            for p in spec.panels
            for line in p.lines
            if len(line.x) > 1
        ]  # the end of the last bucket: time_s is each one's start
        times += [b.end for p in spec.panels for b in p.bars]
        return max(times) if times else spec.now

    @property
    def dark(self) -> bool:
        return self.palette().color(QPalette.ColorRole.Base).lightness() < 128

    @property
    def on_screen(self) -> bool:
        """Whether any of the plot can be seen (not scrolled out of the dock, not hidden)."""
        return self.isVisible() and not self.viewport().visibleRegion().isEmpty()

    def show_spec(self, spec: PlotSpec, defer: bool = False) -> None:
        """Draw ``spec``: update the curves in place when only their data changed.

        With ``defer``, a plot scrolled out of sight keeps the newest spec and draws it when
        it is next painted: it costs the live run nothing meanwhile."""
        if defer and self.panels and not self.on_screen:
            self._pending = spec
            return
        self._pending = None
        try:
            structure = self._structure_of(spec)
            if structure != self._structure or self._dark != self.dark:
                self._rebuild(spec)
                self._structure = structure
            self._update(spec)
            self.spec = spec
            self.error = None
            self.frames += 1
        except Exception as exc:  # a plot that cannot draw says so; the app carries on
            self.error = f"{type(exc).__name__}: {exc}"
            self._show_message(f"plot failed: {self.error}")
            self._structure = None

    def boxes(self) -> list[pg.ViewBox]:
        """The view boxes whose x range the panel keeps equal across all plots."""
        return [items.plot.vb for items in self.panels]

    def paintEvent(self, event: Any) -> None:
        super().paintEvent(event)
        if self._pending is not None:  # scrolled back into sight: draw the newest, next turn
            QTimer.singleShot(0, self._draw_pending)

    def _draw_pending(self) -> None:
        if self._pending is not None and self.on_screen:
            self.show_spec(self._pending)

    def clear_plot(self) -> None:
        """Forget the last run: the next run (or none) draws afresh."""
        self._pending = None
        self.spec = None
        self._structure = None
        self.error = None
        self._show_message(f"{TITLES[self.kind]} (run the scenario to see it)")

    def _show_message(self, text: str) -> None:
        self.ci.clear()
        self.panels = []
        self._placeholder = pg.LabelItem(text, color=self._fg().name())
        self.ci.addItem(self._placeholder)

    @staticmethod
    def _structure_of(spec: PlotSpec) -> tuple:
        panels = [
            (tuple(ln.key for ln in p.lines), tuple(f.key for f in p.fills), tuple(p.rows),
             p.log, tuple((e.label, e.colour, e.style) for e in p.legend), p.empty, p.ymin,
             p.ymax, tuple(p.hlines), p.ylabel, p.caption)
            for p in spec.panels
        ]  # fmt: skip
        return (*panels, tuple((f.start, f.end, f.colour) for f in spec.faults), spec.horizon)

    def _fg(self) -> QColor:
        return self.palette().color(QPalette.ColorRole.Text)

    def _muted(self) -> QColor:
        return self.palette().color(QPalette.ColorRole.PlaceholderText)

    def _apply_palette(self) -> None:
        self.setBackground(self.palette().color(QPalette.ColorRole.Base))

    def _rebuild(self, spec: PlotSpec) -> None:
        dark = self._dark = self.dark
        self._apply_palette()
        fg = self._fg()
        self.ci.clear()
        self.panels = []
        for row, panel in enumerate(spec.panels):
            plot = pg.PlotItem(axisItems={"left": LogAxis("left")} if panel.log else None)
            plot.setMenuEnabled(False)
            plot.hideButtons()
            plot.setMouseEnabled(x=True, y=False)
            plot.vb.setDefaultPadding(0.02)
            _shrinkable(plot.titleLabel)
            self.ci.addItem(plot, row=row, col=0)
            side = pg.GraphicsLayout()
            self.ci.addItem(side, row=row, col=1)
            items = PanelItems(plot, side)
            self.panels.append(items)
            self._build_panel(items, panel, spec, dark, fg)
        self.ci.layout.setColumnFixedWidth(1, LEGEND_PX)
        bottom = self.panels[-1].plot
        bottom.setLabel("bottom", spec.xlabel, color=fg.name(), size="8pt")
        for items in self.panels[:-1]:
            items.plot.getAxis("bottom").setStyle(showValues=False)
        for items in self.panels:
            items.plot.setXRange(0, spec.horizon, padding=0)

    def _build_panel(
        self, items: PanelItems, panel: Panel, spec: PlotSpec, dark: bool, fg: QColor
    ) -> None:
        plot = items.plot
        for axis in ("left", "bottom"):
            ax = plot.getAxis(axis)
            ax.enableAutoSIPrefix(False)
            ax.setStyle(maxTickLevel=1)  # no third level of grid lines: costly to paint, unread
            if axis == "left":  # one width for all: plots above one another share their x scale
                ax.setWidth(AXIS_PX)
            ax.setPen(pg.mkPen(fg))
            ax.setTextPen(pg.mkPen(fg))
        muted = self._muted()
        for span in spec.faults:
            region = pg.LinearRegionItem((span.start, span.end), movable=False,
                                         brush=_qcolor(span.colour, 0.2),
                                         pen=pg.mkPen(None))  # fmt: skip
            region.setZValue(-10)
            plot.addItem(region, ignoreBounds=True)
        items.cursor.setPen(pg.mkPen(readable(CURSOR, dark), width=1.4))
        if panel.empty:
            plot.getAxis("left").setStyle(showValues=False)
            items.empty.setText(panel.empty, color=muted)
            plot.addItem(items.empty, ignoreBounds=True)
            plot.setYRange(0, 1, padding=0)
            items.empty.setPos(spec.horizon / 2, 0.5)
            return
        plot.setLogMode(x=False, y=panel.log)  # the axis; the curves get log10 values
        items.log = panel.log
        plot.showGrid(x=False, y=not panel.rows, alpha=0.15)
        if panel.ylabel:
            plot.setLabel("left", panel.ylabel, color=fg.name(), size="8pt")
        for fill in panel.fills:
            low, high = pg.PlotCurveItem(pen=None), pg.PlotCurveItem(pen=None)
            between = pg.FillBetweenItem(low, high, brush=_qcolor(readable(fill.colour, dark),
                                                                  fill.alpha))  # fmt: skip
            between.setZValue(-5)
            plot.addItem(between)
            items.fills[fill.key] = (low, high)
        for line in panel.lines:
            style = Qt.PenStyle.DashLine if line.dashed else Qt.PenStyle.SolidLine
            pen = pg.mkPen(readable(line.colour, dark), width=line.width, style=style)
            curve = pg.PlotCurveItem(pen=pen, connect="finite")  # lighter than a PlotDataItem
            plot.addItem(curve)
            items.curves[line.key] = curve
        for y, colour in panel.hlines:
            plot.addItem(pg.InfiniteLine(pos=y, angle=0, movable=False,
                                         pen=pg.mkPen(readable(colour, dark), width=1.0,
                                                      style=Qt.PenStyle.DashLine)))  # fmt: skip
        if panel.rows:
            items.bars = pg.BarGraphItem(x0=[0.0], x1=[0.0], y=[0.0], height=0.7,
                                         pen=pg.mkPen(None), brush=pg.mkBrush(None))  # fmt: skip
            plot.addItem(items.bars)
            plot.getAxis("left").setStyle(showValues=False, tickLength=0)
            plot.invertY(True)
            plot.setYRange(-0.5, len(panel.rows) - 0.5, padding=0)
            for row, name in enumerate(panel.named_rows):
                label = pg.TextItem(name, color="white", anchor=(0, 0.5))
                font = QFont()
                font.setBold(True)
                font.setPointSizeF(8)
                label.setFont(font)
                label.setPos(spec.horizon * 0.005, row)
                label.setZValue(25)
                plot.addItem(label, ignoreBounds=True)
        elif panel.ymin is not None and panel.ymax is not None:
            plot.setYRange(panel.ymin, panel.ymax, padding=0)
        elif panel.ymin is not None:
            plot.vb.setLimits(yMin=panel.ymin)
        self._build_legend(items, panel, dark, fg, muted)

    def _build_legend(
        self, items: PanelItems, panel: Panel, dark: bool, fg: QColor, muted: QColor
    ) -> None:
        side = items.side
        if panel.caption:
            caption = panel.caption.replace("\n", "<br>")
            side.addLabel(caption, row=0, col=0, color=muted.name(), size="7pt", justify="left")
        if not panel.legend:
            return
        if panel.too_many:
            text = f"{len(panel.legend)} series:<br>click a node<br>or call to see<br>it alone"
            side.addLabel(text, color=muted.name(), size="7pt", justify="left")
            return
        # one rich-text label: a legend of sample items costs more to build than the plot
        glyphs = {"line": "━━", "dashed": "╍╍", "fill": "██", "bar": "██"}
        rows = []
        for entry in panel.legend:
            bar = entry.style == "bar"  # bars are wide: drawn in their own colour on any palette
            colour = QColor(entry.colour if bar else readable(entry.colour, dark))
            if entry.style == "fill":
                colour.setAlphaF(0.55)
            sample = f'<span style="color:{colour.name(QColor.NameFormat.HexArgb)}">'
            rows.append(f"{sample}{glyphs[entry.style]}</span>&nbsp;{escape(entry.label)}")
        side.addLabel("<br>".join(rows), row=1, col=0, color=fg.name(), size="7pt",
                      justify="left")  # fmt: skip
        side.layout.setRowStretchFactor(2, 1)
        side.addLabel("", row=2, col=0)

    def _update(self, spec: PlotSpec) -> None:
        dark = bool(self._dark)
        label_colour = QColor(FAULT_TEXT_DARK if dark else FAULT_TEXT)
        back = _qcolor(self.palette().color(QPalette.ColorRole.Base).name(), 0.8)
        for i, (items, panel) in enumerate(zip(self.panels, spec.panels, strict=True)):
            if panel.title != items.title:
                items.plot.setTitle(panel.title, color=self._fg().name(), size="9pt",
                                    justify="left", bold=True)  # fmt: skip

                items.title = panel.title
            items.cursor.setValue(spec.now)
            for line in panel.lines:
                items.curves[line.key].setData(line.x, _log10(line.y) if items.log else line.y)
            for fill in panel.fills:
                low, high = items.fills[fill.key]
                low.setData(fill.x, fill.low)
                high.setData(fill.x, fill.high)
            if items.bars is not None:
                bars = panel.bars
                items.bars.setVisible(bool(bars))
                if bars:
                    items.bars.setOpts(x0=[b.start for b in bars], x1=[b.end for b in bars],
                                       y=[b.row for b in bars], height=0.7,
                                       brushes=[pg.mkBrush(b.colour) for b in bars])  # fmt: skip
            bands = [(b.start, b.end, QColor(readable(b.colour, dark)), b.text)
                     for b in panel.bands]  # fmt: skip
            labels = spec.fault_labels if i == 0 else []
            items.overlay.set_marks(bands, labels, label_colour, back)

    # -- palette and menu ----------------------------------------------------------------------

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "panels"):
            self._apply_palette()
            self._structure = None  # every colour is chosen again
            if self.spec is not None:
                self.show_spec(self.spec)  # rebuilt: the dark test differs from the last one

    def wheelEvent(self, event: Any) -> None:
        """The wheel scrolls the dock the plots sit in; with Ctrl held it zooms time."""
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            super().wheelEvent(event)
        else:
            event.ignore()

    def mouseDoubleClickEvent(self, event: Any) -> None:
        if self.panels and self.spec is not None:
            self.panels[0].plot.setXRange(0, self.spec.horizon, padding=0)

    def contextMenuEvent(self, event: Any) -> None:
        self.context_menu().popup(event.globalPos())

    def context_menu(self) -> QMenu:
        menu = QMenu(self)
        for fmt in ("png", "svg"):
            action = QAction(f"Save plot as {fmt.upper()}…", menu)
            action.triggered.connect(lambda _=False, f=fmt: self.save_requested.emit(self.kind, f))
            menu.addAction(action)
        return menu


def _log10(values: np.ndarray) -> np.ndarray:
    """log10, with nothing drawn (NaN) where a value is not positive."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log10(np.where(values > 0, values, np.nan))


def curve_data(view: PlotView, key: str, panel: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The x and y a curve of ``view`` draws now, in the data's units (for tests)."""
    items = view.panels[panel]
    x, y = items.curves[key].getData()
    y = np.asarray(y, dtype=float)
    return np.asarray(x), 10.0**y if items.log else y
