"""Matplotlib drawing of string diagrams (no graphviz).

Diagrams are drawn bottom to top, as in the string-diagram literature: the domain wires enter at
the bottom, each layer is one row, and the codomain wires leave at the top. Boxes are rectangles
labelled with their name, a copy is a black dot, a discard is a ground symbol, a uniform state is
a small triangle, and permutations are crossing wires. Wires keep their horizontal position from
row to row and only move right when a box needs the room, so they stay mostly straight.
"""

import os
import pathlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # drawing depends on no diagram code at run time (no import cycle)
    import matplotlib.axes
    import matplotlib.figure

    from probkit.causal.diagram import Diagram, Layer

__all__ = ["draw"]

_BOX_LOW, _BOX_HIGH = 0.28, 0.72  # the box's band inside a row of height 1


def _place(layer: "Layer", below: list[float]) -> list[float]:
    """x positions of the wires above a layer, given those below it."""
    b, lo = layer.box, len(layer.left)
    ins = below[lo : lo + len(b.dom)]
    left = below[:lo]
    floor = left[-1] + 1.0 if left else float("-inf")
    if b.kind == "permute":
        outs = sorted(ins)
    elif not b.cod:
        outs = []
    else:
        if ins:
            start = sum(ins) / len(ins) - (len(b.cod) - 1) / 2 if b.kind == "box" else ins[0]
        else:
            start = floor if left else (below[lo] if lo < len(below) else 0.0)
        start = max(start, floor)
        outs = [start + i for i in range(len(b.cod))]
    above = left + outs
    for x in below[lo + len(b.dom) :]:
        above.append(max(x, above[-1] + 1.0) if above else x)
    return above


def _wire(ax, xs, ys):
    ax.plot(xs, ys, color="black", lw=1.2, solid_capstyle="round", zorder=1)


def _through(ax, x0: float, x1: float, k: int):
    """A pass-through wire from (x0, k-1) to (x1, k), bending outside the box band."""
    if x0 == x1:
        _wire(ax, [x0, x0], [k - 1, k])
    elif x1 > x0:
        _wire(ax, [x0, x1, x1], [k - 1, k - 1 + _BOX_LOW, k])
    else:
        _wire(ax, [x0, x0, x1], [k - 1, k - 1 + _BOX_HIGH, k])


def draw(
    diagram: "Diagram",
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

    Examples:
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from probkit.causal import Box, Copy, Wire
        >>> x = Wire("X", 2)
        >>> fig = causal.draw(Box("X", [], [x]) >> Copy(x), title="copy X")
        >>> type(fig).__name__
        'Figure'
        >>> import matplotlib.pyplot as plt
        >>> plt.close(fig)
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    if not hasattr(diagram, "layers") and hasattr(diagram, "to_diagram"):
        diagram = diagram.to_diagram()  # a single Box
    if not all(hasattr(diagram, a) for a in ("dom", "cod", "layers")):
        raise TypeError(f"diagram must be a causal.Diagram or Box, got {type(diagram).__name__}")
    rows = len(diagram.layers)
    slices = [[float(j) for j in range(len(diagram.dom))]]
    for layer in diagram.layers:
        slices.append(_place(layer, slices[-1]))
    xs = [x for s in slices for x in s] or [0.0]
    lo_x, hi_x = min(xs), max(xs)
    if ax is None:
        width = 2.0 + 1.0 * (hi_x - lo_x)
        fig = Figure(figsize=figsize or (width, 1.0 + 0.75 * max(rows, 1)))
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    text = dict(ha="left", va="center", fontsize=8, color="0.25")
    for k, layer in enumerate(diagram.layers, start=1):
        below, above = slices[k - 1], slices[k]
        b, lo = layer.box, len(layer.left)
        nd, nc = len(b.dom), len(b.cod)
        for j in range(lo):
            _wire(ax, [below[j], above[j]], [k - 1, k])
        for j in range(len(layer.right)):
            _through(ax, below[lo + nd + j], above[lo + nc + j], k)
        ins, outs = below[lo : lo + nd], above[lo : lo + nc]
        mid = k - 0.5
        if b.kind == "box":
            span = ins + outs or [below[lo] if lo < len(below) else 0.0]
            left, right = min(span) - 0.35, max(span) + 0.35
            ax.add_patch(
                Rectangle(
                    (left, k - 1 + _BOX_LOW),
                    right - left,
                    _BOX_HIGH - _BOX_LOW,
                    facecolor="#dbe9f6",
                    edgecolor="black",
                    lw=1.2,
                    zorder=2,
                )
            )
            ax.text(
                (left + right) / 2, mid, b.name, ha="center", va="center", fontsize=10, zorder=3
            )
            for x in ins:
                _wire(ax, [x, x], [k - 1, k - 1 + _BOX_LOW])
            for x, w in zip(outs, b.cod):
                _wire(ax, [x, x], [k - 1 + _BOX_HIGH, k])
                if label_wires:
                    ax.text(x + 0.06, k - 0.12, w.name, **text)
        elif b.kind == "copy":
            (x0,) = ins
            _wire(ax, [x0, x0], [k - 1, mid])
            for x in outs:
                _wire(ax, [x0, x], [mid, k])
            ax.plot([x0], [mid], "o", color="black", ms=5, zorder=3)
        elif b.kind == "discard":
            (x0,) = ins
            _wire(ax, [x0, x0], [k - 1, mid])
            for r, dy in ((0.18, 0.0), (0.11, 0.06), (0.05, 0.12)):
                ax.plot([x0 - r, x0 + r], [mid + dy, mid + dy], color="black", lw=1.2)
        elif b.kind == "uniform":
            (x0,) = outs
            _wire(ax, [x0, x0], [mid, k])
            ax.plot([x0], [mid], "^", color="black", ms=8, zorder=3)
            ax.text(x0 + 0.12, mid, "uniform", **text)
            if label_wires:
                ax.text(x0 + 0.06, k - 0.12, b.cod[0].name, **text)
        elif b.kind == "permute":
            for i, p in enumerate(b.params):
                _wire(
                    ax,
                    [ins[p], ins[p], outs[i], outs[i]],
                    [k - 1, k - 1 + _BOX_LOW, k - 1 + _BOX_HIGH, k],
                )
        else:  # rename
            _wire(ax, [ins[0], outs[0]], [k - 1, k])
            ax.text(outs[0] + 0.06, mid, f"{b.dom[0].name}→{b.cod[0].name}", **text)
    if label_wires:
        for x, w in zip(slices[0], diagram.dom):
            ax.text(x + 0.06, -0.12, w.name, **text)
        for x, w in zip(slices[-1], diagram.cod):
            ax.text(x, rows + 0.12, w.name, ha="center", va="bottom", fontsize=10)
    if rows == 0:
        for x in slices[0]:
            _wire(ax, [x, x], [0, 1])
    ax.set_xlim(lo_x - 0.8, hi_x + 0.8)
    ax.set_ylim(-0.4, max(rows, 1) + 0.5)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    if path is not None:
        path = pathlib.Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110, bbox_inches="tight")
    return fig
