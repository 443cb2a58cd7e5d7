"""SVG bar charts for the statistics page, drawn on the server with matplotlib.

Only the object API (``Figure`` + the SVG canvas), never pyplot: no global figure state, no GUI
backend. Output is deterministic (fixed ``svg.hashsalt``, no date) and contains no script. Text stays
text (``svg.fonttype`` none): small files, crisp at any zoom, selectable. Colours have at least 3:1
contrast on white, and series are told apart by hatching and a legend too, never by colour alone;
the page puts the same numbers in a table beside each chart.
"""
from __future__ import annotations

import io
import textwrap
import threading
from collections.abc import Sequence

import matplotlib
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

INK, MUTED, GRID, BAR = "#1b1f24", "#4a5360", "#c9ced6", "#0b5c8c"
#: (fill, hatch) per series of a stacked chart, in order; white hatches and edges on dark fills
SERIES_STYLES = (("#1d6b3a", ""), ("#3f7d2c", "//"), ("#a3161b", "xx"), ("#8a4b00", ".."), ("#0b5c8c", "\\\\"),
                 ("#4a5360", "--"))
RC = {
    "svg.hashsalt": "vaern-statistics", "svg.fonttype": "none",
    "font.family": "sans-serif", "font.sans-serif": ["DejaVu Sans", "Noto Sans", "Arial"], "font.size": 12,
    "text.color": INK, "axes.labelcolor": INK, "xtick.color": INK, "ytick.color": INK,
    "axes.edgecolor": MUTED, "axes.spines.top": False, "axes.spines.right": False,
    "hatch.color": "white", "hatch.linewidth": 1.2,
}
WIDTH = 6.2  #: inches (446 pt): about the width of the page column, so text keeps its size
_lock = threading.Lock()  # rcParams are process-wide: one chart at a time


def _svg(fig: Figure) -> bytes:
    buf = io.BytesIO()
    FigureCanvasSVG(fig).print_svg(buf, metadata={"Date": None, "Creator": "Værn"})
    return buf.getvalue()


def _integer_axis(axis, values: Sequence[int]) -> None:
    axis.set_major_locator(MaxNLocator(integer=True))


def _wrap(labels: Sequence[str], width: int = 30) -> list[str]:
    """Long category labels on several lines, so the bars keep their room."""
    return [textwrap.fill(str(text), width) or " " for text in labels]


def _bars_height(labels: Sequence[str]) -> float:
    """Inches for horizontal bars: room for every label line plus the axis."""
    return 0.3 * max(len(labels), 1) + 0.19 * sum(text.count("\n") + 1 for text in labels) + 0.9


def bar_chart(labels: Sequence[str], values: Sequence[int], *, horizontal: bool = True,
              axis_label: str = "") -> bytes:
    """One series of counts: horizontal bars (long labels read left to right) or columns (months)."""
    n = max(len(labels), 1)
    if horizontal:
        labels = _wrap(labels)
    with _lock, matplotlib.rc_context(RC):
        height = _bars_height(labels) if horizontal else 3.4
        fig = Figure(figsize=(WIDTH, height), layout="constrained")
        ax = fig.add_subplot()
        top = max([*values, 1])
        if horizontal:
            bars = ax.barh(list(labels), list(values), color=BAR, height=0.6)
            ax.invert_yaxis()  # the first row on top, like the table
            ax.set_xlim(0, top * 1.15)
            _integer_axis(ax.xaxis, values)
            ax.grid(axis="x", color=GRID, linewidth=0.8)
            ax.set_xlabel(axis_label)
        else:
            bars = ax.bar(list(labels), list(values), color=BAR, width=0.6)
            ax.set_ylim(0, top * 1.18)
            _integer_axis(ax.yaxis, values)
            ax.grid(axis="y", color=GRID, linewidth=0.8)
            ax.set_ylabel(axis_label)
            if n > 6:
                ax.tick_params(axis="x", labelrotation=35)
                for tick in ax.get_xticklabels():
                    tick.set_horizontalalignment("right")
        ax.set_axisbelow(True)
        ax.bar_label(bars, labels=[str(v) for v in values], padding=3, color=INK)
        return _svg(fig)


def stacked_chart(labels: Sequence[str], series: Sequence[tuple[str, Sequence[int]]], *,
                  axis_label: str = "") -> bytes:
    """Horizontal bars stacked from several series (e.g. takedown outcomes per rung), with a legend."""
    labels = _wrap(labels)
    with _lock, matplotlib.rc_context(RC):
        fig = Figure(figsize=(WIDTH, _bars_height(labels) + 1.1), layout="constrained")
        ax = fig.add_subplot()
        left = [0] * len(labels)
        for (name, values), (fill, hatch) in zip(series, SERIES_STYLES):
            ax.barh(list(labels), list(values), left=left, color=fill, hatch=hatch, edgecolor="white",
                    linewidth=1.2, height=0.6, label=name)
            left = [a + b for a, b in zip(left, values)]
        ax.invert_yaxis()
        top = max([*left, 1])
        ax.set_xlim(0, top * 1.15)
        for y, total in enumerate(left):
            ax.text(total + top * 0.02, y, str(total), va="center", color=INK)
        _integer_axis(ax.xaxis, left)
        ax.grid(axis="x", color=GRID, linewidth=0.8)
        ax.set_axisbelow(True)
        ax.set_xlabel(axis_label)
        fig.legend(loc="outside lower center", ncols=2, frameon=False, handlelength=2.2, handleheight=1.3)
        return _svg(fig)
