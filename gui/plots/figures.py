"""The run's plots as matplotlib Figures, for "Save plot as PNG/SVG". Qt-free.

What a plot shows is decided by ``spec.plot_spec``; this module only renders
that spec with matplotlib, as ``live_view`` renders it with pyqtgraph in the
app, so an exported figure holds the same lines as the live plot it came from.
"""

from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from gui.plots.spec import (
    BREAKER_COLOURS,
    EXTRA_PLOTS,
    PLOTS,
    TITLES,
    Panel,
    PlotData,
    PlotFilter,
    PlotSpec,
    needed_plots,
    plot_spec,
    pool_names,
    queue_names,
)

__all__ = [
    "BREAKER_COLOURS",
    "EXTRA_PLOTS",
    "PLOTS",
    "TITLES",
    "PlotData",
    "PlotFilter",
    "build",
    "draw",
    "needed_plots",
    "pool_names",
    "queue_names",
]
NOW_COLOUR = "#1d3557"
LEGEND_PX = 112
MUTED = "#6c757d"


def new_figure(width_px: int, height_px: int, dpi: float = 96.0) -> Figure:
    figure = Figure(figsize=(max(width_px, 200) / dpi, max(height_px, 120) / dpi), dpi=dpi)
    # Fixed margins in pixels: constrained layout costs more than the drawing itself.
    w, h = max(width_px, 200), max(height_px, 120)
    figure.subplots_adjust(
        left=62 / w, right=1 - 12 / w, top=1 - 26 / h, bottom=34 / h, hspace=0.45
    )
    return figure


def build(kind: str, data: PlotData, width_px: int, height_px: int) -> Figure:
    figure = new_figure(width_px, height_px)
    draw(kind, figure, data)
    return figure


def draw(kind: str, figure: Figure, data: PlotData) -> None:
    """Draw plot ``kind`` onto an empty ``figure``."""
    spec = plot_spec(kind, data)
    if len(spec.panels) == 2:
        axes = list(figure.subplots(2, 1, sharex=True))
    else:
        axes = [figure.add_subplot()]
    legends = False
    for ax, panel in zip(axes, spec.panels, strict=True):
        _draw_panel(ax, panel, spec)
        legends |= _legend(ax, panel)
    if legends:  # to the right of the plot, where they never hide a line
        longest = max((len(e.label) for p in spec.panels for e in p.legend), default=0)
        room = max(LEGEND_PX, 36 + 5 * longest)
        figure.subplots_adjust(right=1 - room / figure.bbox.width)
    for i, (start, text) in enumerate(spec.fault_labels):
        axes[0].text(start, 0.98 - 0.09 * (i % 3),
                     f" {text}", transform=axes[0].get_xaxis_transform(), va="top",
                     fontsize=6.5, color="#5c4033", clip_on=True)  # fmt: skip
    axes[-1].set_xlabel(spec.xlabel, fontsize=8)


def _draw_panel(ax: Axes, panel: Panel, spec: PlotSpec) -> None:
    if panel.title:
        ax.set_title(panel.title, loc="left", fontweight="bold", fontsize=9)
    ax.set_xlim(0, spec.horizon)
    ax.axvline(spec.now, color=NOW_COLOUR, lw=1.2, alpha=0.8)
    ax.tick_params(labelsize=7.5)
    if panel.empty:
        ax.text(0.5, 0.5, panel.empty, ha="center", va="center", transform=ax.transAxes,
                color=MUTED)  # fmt: skip
        ax.set_yticks([])
        return
    for fill in panel.fills:
        ax.fill_between(fill.x, fill.low, fill.high, color=fill.colour, alpha=fill.alpha, lw=0)
    for line in panel.lines:
        ax.plot(line.x, line.y, color=line.colour, lw=line.width, ls="--" if line.dashed else "-",
                label=line.key)  # fmt: skip
    for bar in panel.bars:
        ax.broken_barh([(bar.start, bar.end - bar.start)], (bar.row - 0.35, 0.7),
                       color=bar.colour, lw=0)  # fmt: skip
    for span in spec.faults:
        ax.axvspan(span.start, span.end, color=span.colour, alpha=0.18, lw=0)
    for i, band in enumerate(panel.bands):
        # bands of several routes at the same time: one row above the other, each named
        level = sum(1 for b in panel.bands[:i] if b.start < band.end and band.start < b.end)
        bottom = 0.075 * level
        ax.axvspan(band.start, band.end, ymin=bottom, ymax=bottom + 0.065, facecolor="none",
                   edgecolor=band.colour, hatch="////", lw=0.0)  # fmt: skip
        ax.text(band.start, bottom + 0.0325, band.text, transform=ax.get_xaxis_transform(),
                fontsize=6.5, color=band.colour, va="center", clip_on=True,
                bbox={"facecolor": "white", "alpha": 0.8, "lw": 0, "pad": 0.5})  # fmt: skip
    for y, colour in panel.hlines:
        ax.axhline(y, color=colour, lw=1.0, ls="--")
    if panel.rows:  # names inside the bars: long names need no margin
        for row, name in enumerate(panel.named_rows):
            ax.text(spec.horizon * 0.005, row, name, va="center", fontsize=7, color="white",
                    fontweight="bold")  # fmt: skip
        ax.set_yticks([])
        ax.set_ylim(len(panel.rows) - 0.5, -0.5)
    else:
        ax.grid(True, alpha=0.25)
    if panel.log:
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
    elif panel.ymin is not None or panel.ymax is not None:
        ax.set_ylim(bottom=panel.ymin, top=panel.ymax)
    if panel.ylabel:
        ax.set_ylabel(panel.ylabel, fontsize=8)
    if panel.caption:
        ax.text(0.005, 0.96, panel.caption, transform=ax.transAxes, va="top", fontsize=6.5,
                color=MUTED)  # fmt: skip


def _legend(ax: Axes, panel: Panel) -> bool:
    if not panel.legend:
        return False
    if panel.too_many:
        ax.text(1.01, 1.0, f"{len(panel.legend)} series:\nclick a node\nor call to see\nit alone",
                transform=ax.transAxes, va="top", fontsize=6.5, color=MUTED)  # fmt: skip
        return True
    handles = [
        Patch(color=e.colour, alpha=0.45) if e.style == "fill"
        else Line2D([], [], color=e.colour, lw=6 if e.style == "bar" else 1.5,
                    ls="--" if e.style == "dashed" else "-")
        for e in panel.legend
    ]  # fmt: skip
    labels = [e.label for e in panel.legend]
    ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=6.5,
              frameon=False, borderaxespad=0.0)  # fmt: skip
    return True
