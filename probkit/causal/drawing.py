"""Matplotlib drawing of string diagrams (no graphviz).

Diagrams are drawn bottom to top, as in the string-diagram literature: the domain wires enter at
the bottom, each layer is one row, and the codomain wires leave at the top. Boxes are rectangles
labelled with their name, a copy is a black dot, a discard is a ground symbol, a uniform state is
a small triangle, and permutations are crossing wires.
"""

import os
import pathlib
from typing import TYPE_CHECKING

from probkit.causal.diagram import Diagram, _as_diagram

if TYPE_CHECKING:
    import matplotlib.axes
    import matplotlib.figure

__all__ = ["draw"]

_BOX_LOW, _BOX_HIGH = 0.28, 0.72  # the box's band inside a row of height 1


def _wire(ax, xs, ys, **kw):
    ax.plot(xs, ys, color="black", lw=1.2, solid_capstyle="round", zorder=1, **kw)


def _through(ax, x0, x1, k, grow: bool):
    """A pass-through wire from (x0, k-1) to (x1, k), bending outside the box band."""
    if x0 == x1:
        _wire(ax, [x0, x0], [k - 1, k])
    elif grow:
        _wire(ax, [x0, x1, x1], [k - 1, k - 1 + _BOX_LOW, k])
    else:
        _wire(ax, [x0, x0, x1], [k - 1, k - 1 + _BOX_HIGH, k])


def draw(
    diagram: Diagram,
    *,
    ax: "matplotlib.axes.Axes | None" = None,
    path: str | os.PathLike | None = None,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
    label_wires: bool = True,
) -> "matplotlib.figure.Figure":
    """Draw a string diagram with matplotlib.

    Args:
        diagram: the diagram (or a single box).
        ax: a matplotlib Axes to draw on; a new Figure is made when None.
        path: if given, save the figure there (any format matplotlib writes).
        title: optional title.
        figsize: size of a new figure (default grows with the diagram).
        label_wires: write the wire names at the boundary and on box outputs.

    Returns:
        The matplotlib Figure.
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    diagram = _as_diagram(diagram)
    rows = len(diagram.layers)
    width = max(
        [len(diagram.dom), len(diagram.cod)]
        + [len(l.left) + max(len(l.box.dom), len(l.box.cod)) + len(l.right) for l in diagram.layers]
        + [1]
    )
    if ax is None:
        fig = Figure(figsize=figsize or (1.2 + 1.0 * width, 1.0 + 0.75 * max(rows, 1)))
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    text = dict(ha="left", va="center", fontsize=8, color="0.25")
    for k, layer in enumerate(diagram.layers, start=1):
        b, lo = layer.box, len(layer.left)
        nd, nc = len(b.dom), len(b.cod)
        for j in range(lo):
            _wire(ax, [j, j], [k - 1, k])
        for j in range(len(layer.right)):
            x0 = lo + nd + j
            _through(ax, x0, x0 + nc - nd, k, grow=nc > nd)
        mid = k - 0.5
        if b.kind == "box":
            span = max(nd, nc, 1)
            ax.add_patch(
                Rectangle(
                    (lo - 0.35, k - 1 + _BOX_LOW),
                    span - 1 + 0.7,
                    _BOX_HIGH - _BOX_LOW,
                    facecolor="#dbe9f6",
                    edgecolor="black",
                    lw=1.2,
                    zorder=2,
                )
            )
            ax.text(
                lo + (span - 1) / 2, mid, b.name, ha="center", va="center", fontsize=10, zorder=3
            )
            for i in range(nd):
                _wire(ax, [lo + i, lo + i], [k - 1, k - 1 + _BOX_LOW])
            for i, w in enumerate(b.cod):
                _wire(ax, [lo + i, lo + i], [k - 1 + _BOX_HIGH, k])
                if label_wires:
                    ax.text(lo + i + 0.06, k - 0.12, w.name, **text)
        elif b.kind == "copy":
            _wire(ax, [lo, lo], [k - 1, mid])
            for i in range(nc):
                _wire(ax, [lo, lo + i], [mid, k])
            ax.plot([lo], [mid], "o", color="black", ms=5, zorder=3)
        elif b.kind == "discard":
            _wire(ax, [lo, lo], [k - 1, mid])
            for r, dy in ((0.18, 0.0), (0.11, 0.06), (0.05, 0.12)):
                ax.plot([lo - r, lo + r], [mid + dy, mid + dy], color="black", lw=1.2)
        elif b.kind == "uniform":
            _wire(ax, [lo, lo], [mid, k])
            ax.plot([lo], [mid], "^", color="black", ms=8, zorder=3)
            ax.text(lo + 0.12, mid, "uniform", **text)
            if label_wires:
                ax.text(lo + 0.06, k - 0.12, b.cod[0].name, **text)
        elif b.kind == "permute":
            for i, p in enumerate(b.params):
                _wire(
                    ax,
                    [lo + p, lo + p, lo + i, lo + i],
                    [k - 1, k - 1 + _BOX_LOW, k - 1 + _BOX_HIGH, k],
                )
        else:  # rename
            _wire(ax, [lo, lo], [k - 1, k])
            ax.text(lo + 0.06, mid, f"{b.dom[0].name}→{b.cod[0].name}", **text)
    if label_wires:
        for j, w in enumerate(diagram.dom):
            ax.text(j + 0.06, -0.12, w.name, **text)
        for j, w in enumerate(diagram.cod):
            ax.text(j, rows + 0.12, w.name, ha="center", va="bottom", fontsize=10)
    if rows == 0:
        for j in range(len(diagram.dom)):
            _wire(ax, [j, j], [0, 1])
    ax.set_xlim(-0.8, width - 0.2)
    ax.set_ylim(-0.4, max(rows, 1) + 0.5)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    if path is not None:
        path = pathlib.Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110, bbox_inches="tight")
    return fig
