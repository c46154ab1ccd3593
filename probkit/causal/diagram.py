"""String diagrams (the syntax) and their interpretation as channels (the semantics).

A diagram is built from boxes with typed wires, composed in sequence (`d1 >> d2`, the
codomain of d1 must equal the domain of d2) and in parallel (`d1 @ d2`). A wire is a `Wire(name,
size)`: a variable name and its number of states. Besides user boxes (a box per variable of a
causal model, carrying its CPT) there are the generators of a CDU category: `Copy`, `Discard`,
`Uniform`, plus `Permute`/`Swap` for crossing wires and `Rename`.

Internally a diagram is a list of layers `(left, box, right)`: the box acts on some wires while
the wires on its left and right pass through (the normal form of a monoidal category). The
interpretation functor `interpret` sends each box to its table, `Copy` to a diagonal, `Discard`
to a row of ones and `Uniform` to 1/n; it evaluates the whole diagram as one einsum (copies
become shared indices) and returns a `Channel` from the domain wires to the codomain wires.

`cut(diagram, var)` is the paper's intervention endofunctor: it replaces the box that emits
`var` by "discard its inputs, then emit the uniform state on var". The interventional
distribution P(· | do(var = x)) is the interpreted cut diagram conditioned on var = x.
"""

import dataclasses
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from probkit.causal.channel import Channel, as_table, check_stochastic
from probkit.causal.contraction import contract
from probkit.core.types import Array, ArrayLike

__all__ = [
    "Box",
    "Copy",
    "Diagram",
    "Discard",
    "Layer",
    "Permute",
    "Rename",
    "Swap",
    "Uniform",
    "Wire",
    "cut",
    "evaluate",
    "interpret",
]


class Wire(NamedTuple):
    """A wire type: a variable name and its number of states.

    Attributes:
        name: the variable's name.
        size: its number of states.
    """

    name: str
    size: int


def _wire(w) -> Wire:
    if isinstance(w, Wire):
        out = w
    else:
        try:
            name, size = w
        except (TypeError, ValueError):
            raise TypeError(
                f"a wire is Wire(name, size) or a (name, size) pair, got {w!r}"
            ) from None
        out = Wire(name, size)
    if not isinstance(out.name, str) or not out.name:
        raise TypeError(f"a wire's name must be a non-empty string, got {out.name!r}")
    if isinstance(out.size, bool) or not isinstance(out.size, int | np.integer) or out.size < 1:
        raise ValueError(f"wire {out.name!r} must have an integer size >= 1, got {out.size!r}")
    return Wire(out.name, int(out.size))


def _wires(ws) -> tuple[Wire, ...]:
    if isinstance(ws, Wire):
        return (ws,)
    return tuple(_wire(w) for w in ws)


@dataclasses.dataclass(frozen=True, eq=False)
class Box:
    """A generator with typed input wires `dom` and output wires `cod`.

    Args:
        name: the box's label (for a causal model: the variable it emits).
        dom: input wires, `Wire(name, size)` or `(name, size)` pairs.
        cod: output wires.
        data: optional table of shape `(*dom sizes, *cod sizes)` summing to 1 over the output
            axes (a CPT); `interpret` uses it unless given another table for this name.

    Attributes:
        name: the box's label (for a causal model: the variable it emits).
        dom: input wires.
        cod: output wires.
        data: optional table of shape `(*dom sizes, *cod sizes)` (a CPT), or None.
        kind: "box" for a generator; structural boxes (copy, discard, swap, ...) name their kind.
        params: extra static data of a structural box.
    """

    name: str
    dom: tuple[Wire, ...]
    cod: tuple[Wire, ...]
    data: Array | None = None
    kind: str = "box"
    params: tuple = ()

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"a box's name must be a non-empty string, got {self.name!r}")
        object.__setattr__(self, "dom", _wires(self.dom))
        object.__setattr__(self, "cod", _wires(self.cod))
        if self.data is not None:
            data = as_table(f"data of box {self.name!r}", self.data)
            want = tuple(w.size for w in self.dom + self.cod)
            if data.shape != want:
                raise ValueError(
                    f"data of box {self.name!r} must have shape {want} "
                    f"(inputs then outputs), got {data.shape}"
                )
            check_stochastic(f"data of box {self.name!r}", data, len(self.cod))
            object.__setattr__(self, "data", data)

    def __repr__(self) -> str:
        if self.kind != "box":
            return self.name
        ins = ", ".join(w.name for w in self.dom)
        outs = ", ".join(w.name for w in self.cod)
        return f"Box({self.name}: {ins} -> {outs})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Box) and (
            self.name,
            self.dom,
            self.cod,
            self.kind,
            self.params,
        ) == (other.name, other.dom, other.cod, other.kind, other.params)

    def __hash__(self) -> int:
        return hash((self.name, self.dom, self.cod, self.kind, self.params))

    def to_diagram(self) -> "Diagram":
        return Diagram(self.dom, self.cod, (Layer((), self, ()),))

    def __rshift__(self, other) -> "Diagram":
        return self.to_diagram() >> other

    def __matmul__(self, other) -> "Diagram":
        return self.to_diagram() @ other


def Copy(wire, n: int = 2) -> Box:
    """Copy a wire into `n` wires of the same type (n = 0 discards, n = 1 is the identity).

    Examples:
        >>> from probkit.causal import Copy, Wire
        >>> box = Copy(Wire("X", 2))  # X -> X ⊗ X
        >>> causal.evaluate(box).shape  # (*dom sizes, *cod sizes)
        (2, 2, 2)
    """
    w = _wire(wire)
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be an integer >= 0, got {n!r}")
    return Box(f"copy({w.name})", (w,), (w,) * n, kind="copy")


def Discard(wire) -> Box:
    """Discard a wire (marginalise it out).

    Examples:
        >>> from probkit.causal import Discard, Wire
        >>> causal.evaluate(Discard(Wire("X", 3))).tolist()  # X -> (): a row of ones
        [1.0, 1.0, 1.0]
    """
    w = _wire(wire)
    return Box(f"discard({w.name})", (w,), (), kind="discard")


def Uniform(wire) -> Box:
    """The uniform state on a wire.

    Examples:
        >>> from probkit.causal import Uniform, Wire
        >>> causal.evaluate(Uniform(Wire("X", 4))).tolist()  # () -> X
        [0.25, 0.25, 0.25, 0.25]
    """
    w = _wire(wire)
    return Box(f"uniform({w.name})", (), (w,), kind="uniform")


def Permute(wires, perm: Sequence[int]) -> Box:
    """Reorder wires: output wire i is input wire `perm[i]`.

    Examples:
        >>> from probkit.causal import Permute, Wire
        >>> box = Permute([Wire("A", 2), Wire("B", 3)], [1, 0])  # (A, B) -> (B, A)
        >>> [w.name for w in box.cod], causal.evaluate(box).shape
        (['B', 'A'], (2, 3, 3, 2))
    """
    ws = _wires(wires)
    perm = tuple(int(p) for p in perm)
    if sorted(perm) != list(range(len(ws))):
        raise ValueError(f"perm must be a permutation of 0..{len(ws) - 1}, got {perm}")
    cod = tuple(ws[p] for p in perm)
    return Box("permute", ws, cod, kind="permute", params=perm)


def Swap(left, right) -> Box:
    """Cross two wires.

    Examples:
        >>> from probkit.causal import Swap, Wire
        >>> [w.name for w in Swap(Wire("A", 2), Wire("B", 3)).cod]
        ['B', 'A']
    """
    return Permute((_wire(left), _wire(right)), (1, 0))


def Rename(wire, name: str) -> Box:
    """The identity on a wire that changes its name.

    Examples:
        >>> from probkit.causal import Rename, Wire
        >>> ch = causal.interpret(Rename(Wire("X", 2), "Y"))  # the channel X -> Y, y = x
        >>> ch.inputs, ch.outputs
        (('X',), ('Y',))
    """
    w = _wire(wire)
    return Box(f"rename({w.name}->{name})", (w,), (_wire((name, w.size)),), kind="rename")


class Layer(NamedTuple):
    """One step of a diagram: `box` acting between the pass-through wires `left` and `right`.

    Attributes:
        left: wires passing through to the left of the box.
        box: the box applied.
        right: wires passing through to the right of the box.
    """

    left: tuple[Wire, ...]
    box: Box
    right: tuple[Wire, ...]


def _as_diagram(d) -> "Diagram":
    if isinstance(d, Diagram):
        return d
    if isinstance(d, Box):
        return d.to_diagram()
    raise TypeError(f"expected a Diagram or Box, got {type(d).__name__}")


@dataclasses.dataclass(frozen=True)
class Diagram:
    """A string diagram from wires `dom` to wires `cod`, as a sequence of layers.

    Attributes:
        dom: input wires.
        cod: output wires.
        layers: the layers, applied in order.
    """

    dom: tuple[Wire, ...]
    cod: tuple[Wire, ...]
    layers: tuple[Layer, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "dom", _wires(self.dom))
        object.__setattr__(self, "cod", _wires(self.cod))
        wires = self.dom
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Layer) or not isinstance(layer.box, Box):
                raise TypeError(f"layer {i} must be a Layer(left, box, right)")
            if tuple(wires) != layer.left + layer.box.dom + layer.right:
                raise ValueError(f"layer {i} ({layer.box!r}) does not fit the wires {wires}")
            wires = layer.left + layer.box.cod + layer.right
        if tuple(wires) != self.cod:
            raise ValueError(f"the layers end on wires {wires}, not on cod {self.cod}")

    @staticmethod
    def id(wires=()) -> "Diagram":
        """The identity diagram on some wires (no boxes)."""
        ws = _wires(wires)
        return Diagram(ws, ws, ())

    def __rshift__(self, other) -> "Diagram":
        other = _as_diagram(other)
        if self.cod != other.dom:
            raise ValueError(
                f"cannot compose: the first diagram ends on {list(self.cod)} but "
                f"the second starts on {list(other.dom)}"
            )
        return Diagram(self.dom, other.cod, self.layers + other.layers)

    def __matmul__(self, other) -> "Diagram":
        other = _as_diagram(other)
        first = tuple(Layer(l.left, l.box, l.right + other.dom) for l in self.layers)
        second = tuple(Layer(self.cod + l.left, l.box, l.right) for l in other.layers)
        return Diagram(self.dom + other.dom, self.cod + other.cod, first + second)

    @property
    def boxes(self) -> tuple[Box, ...]:
        return tuple(layer.box for layer in self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    def __str__(self) -> str:
        lines = [f"Diagram: {_fmt(self.dom)} -> {_fmt(self.cod)}"]
        for layer in self.layers:
            b = layer.box
            lines.append(
                f"  {_fmt(layer.left)} | {b.name}: {_fmt(b.dom)} -> {_fmt(b.cod)} | "
                f"{_fmt(layer.right)}"
            )
        return "\n".join(lines)

    def interpret(self, boxes: Mapping[str, ArrayLike] | None = None) -> Channel:
        """See `interpret`."""
        return interpret(self, boxes)

    def draw(self, **kwargs):
        """See `probkit.causal.drawing.draw`."""
        from probkit.causal.drawing import draw

        return draw(self, **kwargs)


def _fmt(ws) -> str:
    return "(" + ", ".join(f"{w.name}:{w.size}" for w in ws) + ")"


def _box_table(box: Box, boxes: Mapping[str, ArrayLike] | None) -> Array:
    if boxes is not None and box.name in boxes:
        table = as_table(f"boxes[{box.name!r}]", boxes[box.name])
        want = tuple(w.size for w in box.dom + box.cod)
        if table.shape != want:
            raise ValueError(f"boxes[{box.name!r}] must have shape {want}, got {table.shape}")
        check_stochastic(f"boxes[{box.name!r}]", table, len(box.cod))
        return table
    if box.data is None:
        raise ValueError(f"box {box.name!r} has no data; pass a table for it in `boxes`")
    return box.data


def _network(diagram: Diagram, boxes) -> tuple[list, list, list]:
    """The tensor network of a diagram: factors, input indices, output indices."""
    counter = iter(range(1 << 30))
    inputs = [next(counter) for _ in diagram.dom]
    lanes = list(inputs)
    factors = []
    dtype = jnp.result_type(float)
    for layer in diagram.layers:
        b, lo = layer.box, len(layer.left)
        hi = lo + len(b.dom)
        ins = lanes[lo:hi]
        if b.kind == "box":
            outs = [next(counter) for _ in b.cod]
            factors.append((_box_table(b, boxes), tuple(ins) + tuple(outs)))
        elif b.kind == "copy":
            outs = ins * len(b.cod)
        elif b.kind == "discard":
            outs = []
        elif b.kind == "uniform":
            outs = [next(counter)]
            size = b.cod[0].size
            factors.append((jnp.full((size,), 1.0 / size, dtype=dtype), tuple(outs)))
        elif b.kind == "permute":
            outs = [ins[p] for p in b.params]
        elif b.kind == "rename":
            outs = ins
        else:  # pragma: no cover - boxes are only built by the constructors above
            raise ValueError(f"unknown box kind {b.kind!r}")
        lanes[lo:hi] = outs
    # An index may reach the outputs twice (a copy) or be an input wired straight through:
    # give each such output its own index tied to the original by an identity matrix.
    seen = set(inputs)
    outputs = []
    for idx, w in zip(lanes, diagram.cod):
        if idx in seen:
            new = next(counter)
            factors.append((jnp.eye(w.size, dtype=dtype), (idx, new)))
            idx = new
        seen.add(idx)
        outputs.append(idx)
    # An input that no box reads still needs an axis: a factor of ones.
    used = {i for _, names in factors for i in names}
    for idx, w in zip(inputs, diagram.dom):
        if idx not in used:
            factors.append((jnp.ones((w.size,), dtype=dtype), (idx,)))
    return factors, inputs, outputs


def evaluate(diagram: Diagram, boxes: Mapping[str, ArrayLike] | None = None) -> Array:
    """The diagram's table, axes in wire order: `(*dom sizes, *cod sizes)`.

    Unlike `interpret` this allows repeated wire names (e.g. the two outputs of a copy).

    Examples:
        >>> from probkit.causal import Box, Copy, Wire
        >>> x = Wire("X", 2)
        >>> d = Box("X", [], [x], data=jnp.array([0.3, 0.7])) >> Copy(x)  # two wires named X
        >>> bool(np.allclose(causal.evaluate(d), [[0.3, 0.0], [0.0, 0.7]]))  # (X, X) table
        True
    """
    diagram = _as_diagram(diagram)
    factors, inputs, outputs = _network(diagram, boxes)
    return contract(factors, inputs + outputs)


def interpret(diagram: Diagram, boxes: Mapping[str, ArrayLike] | None = None) -> Channel:
    """The interpretation functor into Stoch: the channel `dom -> cod` denoted by a diagram.

    Args:
        diagram: the diagram (or a single box).
        boxes: optional tables by box name, overriding the boxes' own `data`.

    Returns:
        A `Channel` (a `Distribution` when `dom` is empty) whose variables are the wire names,
        which must therefore be distinct; use `evaluate` for the bare table otherwise.

    Examples:
        >>> from probkit.causal import Box, Wire
        >>> s, c = Wire("S", 2), Wire("C", 2)
        >>> d = Box("S", [], [s]) >> Box("C", [s], [c])  # tables given at interpretation
        >>> tables = {"S": jnp.array([0.9, 0.1]), "C": jnp.array([[0.8, 0.2], [0.3, 0.7]])}
        >>> joint = causal.interpret(d, tables)  # a Distribution on C (S is consumed)
        >>> joint.names, round(float(joint.prob({"C": 1})), 4)
        (('C',), 0.25)
    """
    diagram = _as_diagram(diagram)
    names = [w.name for w in diagram.dom + diagram.cod]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(
            f"the diagram has several wires named {dup} on its boundary; add a "
            "Rename or Discard, or use causal.evaluate for the bare table"
        )
    table = evaluate(diagram, boxes)
    return Channel.unchecked_result(
        table, tuple(w.name for w in diagram.dom), tuple(w.name for w in diagram.cod)
    )


def cut(diagram: Diagram, var: str) -> Diagram:
    """The intervention endofunctor cut_var of Jacobs–Kissinger–Zanasi.

    The box emitting the wire `var` is replaced by discarding its inputs and emitting the
    uniform state on `var`; the rest of the diagram is unchanged. Conditioning the
    interpretation of the result on `var = x` gives P(· | do(var = x)).

    Examples:
        >>> from probkit.causal import Box, Wire
        >>> s, c = Wire("S", 2), Wire("C", 2)
        >>> d = Box("S", [], [s], data=jnp.array([0.9, 0.1])) >> Box(
        ...     "C", [s], [c], data=jnp.array([[0.8, 0.2], [0.3, 0.7]]))
        >>> round(float(causal.interpret(d).prob({"C": 1})), 4)  # 0.9 * 0.2 + 0.1 * 0.7
        0.25
        >>> round(float(causal.interpret(causal.cut(d, "S")).prob({"C": 1})), 4)  # S uniform
        0.45
    """
    diagram = _as_diagram(diagram)
    found = [
        i
        for i, layer in enumerate(diagram.layers)
        if layer.box.kind == "box" and var in [w.name for w in layer.box.cod]
    ]
    if not found:
        names = sorted({w.name for b in diagram.boxes if b.kind == "box" for w in b.cod})
        raise ValueError(f"no box of the diagram emits {var!r}; boxes emit {names}")
    if len(found) > 1:
        raise ValueError(f"several boxes emit {var!r}; cut needs a unique mechanism for it")
    i = found[0]
    left, box, right = diagram.layers[i]
    if len(box.cod) != 1:
        raise ValueError(
            f"box {box.name!r} emits {len(box.cod)} wires; cut replaces a box "
            "with exactly one output"
        )
    new = [Layer(left, Discard(w), box.dom[k + 1 :] + right) for k, w in enumerate(box.dom)]
    new.append(Layer(left, Uniform(box.cod[0]), right))
    return Diagram(
        diagram.dom, diagram.cod, diagram.layers[:i] + tuple(new) + diagram.layers[i + 1 :]
    )
