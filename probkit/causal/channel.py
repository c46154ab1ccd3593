"""Finite stochastic channels and distributions over named variables (the category Stoch).

A `Channel` from inputs A = (A1, ..., Ak) to outputs B = (B1, ..., Bm) is a table of shape
`(|A1|, ..., |Ak|, |B1|, ..., |Bm|)` whose entries are non-negative and sum to 1 over the output
axes: `table[a, b] = c(b | a)`, the same layout as a CPT (parents first, child last). A
`Distribution` is a channel with no inputs (a state). Variables are named by strings and are
matched by name, never by position:

- `f >> g` composes (Σ_b f(b | a) g(c | b)); g's inputs must be exactly f's outputs;
- `f @ g` is the tensor (parallel) product of channels on disjoint variables;
- `copy`, `discard`, `uniform`, `identity`, `point` are the generators of a Markov category;
- `Distribution.marginal`, `.condition`, `.conditional` (disintegration), `.prob`, `.extend`.

Channels and distributions are pytrees (the table is the only leaf), so they pass through
`jax.jit` and `jax.vmap`: vmapping a function that builds channels from a batch of parameter
draws runs every operation on the whole batch. Tables are validated when concrete (finite,
non-negative, summing to 1) and only shape-checked under tracing.
"""

from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from probkit.causal.contraction import contract, take
from probkit.core import validate
from probkit.core.types import Array, ArrayLike

__all__ = [
    "Channel",
    "Distribution",
    "compose",
    "copy",
    "discard",
    "identity",
    "point",
    "tensor",
    "uniform",
]


def check_names(arg: str, names) -> tuple[str, ...]:
    """A tuple of distinct, non-empty variable names (strings)."""
    if isinstance(names, str):
        names = (names,)
    try:
        names = tuple(names)
    except TypeError:
        raise TypeError(f"{arg} must be a sequence of variable names, got {names!r}") from None
    for n in names:
        if not isinstance(n, str) or not n:
            raise TypeError(f"{arg} must contain non-empty strings, got {n!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"{arg} has repeated variable names: {names}")
    return names


def as_table(arg: str, table: ArrayLike) -> Array:
    """A floating-point array (integers are converted to the default float dtype)."""
    arr = validate.array(arg, table, dtype_kind="fiu")
    if not jnp.issubdtype(arr.dtype, jnp.floating):
        arr = arr.astype(jnp.result_type(float))
    return arr


def check_stochastic(arg: str, table: Array, num_outputs: int, what: str = "rows") -> None:
    """Concrete tables: finite, non-negative, and summing to 1 over the last `num_outputs` axes."""
    validate.stochastic(arg, table, num_outputs, what=what, over=" over the output axes")


def value_index(arg: str, var: str, value, size: int):
    """Check one variable's value: an integer in [0, size) (traced integers pass unchecked)."""
    if isinstance(value, bool):
        raise TypeError(f"{arg}[{var!r}] must be an integer state index, got {value!r}")
    if isinstance(value, jax.core.Tracer):
        if not jnp.issubdtype(value.dtype, jnp.integer):
            raise TypeError(f"{arg}[{var!r}] must be an integer state index, got {value.dtype}")
        return value
    arr = np.asarray(value)
    if arr.shape != () or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{arg}[{var!r}] must be an integer state index, got {value!r}")
    if not 0 <= int(arr) < size:
        raise ValueError(
            f"{arg}[{var!r}] = {int(arr)} is out of range for a variable with "
            f"{size} states (0..{size - 1})"
        )
    return int(arr)


def check_assignment(arg: str, values: Mapping, sizes: Mapping[str, int]) -> dict:
    """A dict {variable: state index} over known variables."""
    if not isinstance(values, Mapping):
        raise TypeError(f"{arg} must be a dict {{variable: state}}, got {type(values).__name__}")
    unknown = [v for v in values if v not in sizes]
    if unknown:
        raise ValueError(f"{arg} names unknown variable(s) {unknown}; known: {list(sizes)}")
    return {v: value_index(arg, v, x, sizes[v]) for v, x in values.items()}


def safe_divide(num: Array, den: Array, fill: float) -> Array:
    """num / den where den > 0, `fill` elsewhere (no NaN is ever produced)."""
    ok = den > 0
    return jnp.where(ok, num / jnp.where(ok, den, 1.0), fill)


def _take(table: Array, names: tuple, values: Mapping) -> tuple[Array, tuple]:
    """Slice `table` at fixed values of some of its axes; returns the table and remaining names."""
    for var in sorted(values, key=names.index, reverse=True):
        table = take(table, values[var], names.index(var))
    return table, tuple(n for n in names if n not in values)


@jax.tree_util.register_pytree_node_class
class Channel:
    """A stochastic map between finite variables: `table[*inputs, *outputs] = c(outputs | inputs)`.

    Args:
        table: array of shape `(*[size of each input], *[size of each output])`, non-negative,
            summing to 1 over the output axes.
        inputs: names of the input variables (may be empty: then see `Distribution`).
        outputs: names of the output variables, disjoint from the inputs.
    """

    __slots__ = ("inputs", "outputs", "table")

    def __init__(self, table: ArrayLike, inputs: Sequence[str], outputs: Sequence[str]):
        inputs = check_names("inputs", inputs)
        outputs = check_names("outputs", outputs)
        both = set(inputs) & set(outputs)
        if both:
            raise ValueError(
                f"a variable cannot be both input and output of a channel: "
                f"{sorted(both)} (rename one side)"
            )
        table = as_table("table", table)
        if table.ndim != len(inputs) + len(outputs):
            raise ValueError(
                f"table must have one axis per input and output "
                f"({len(inputs)} + {len(outputs)}), got shape {table.shape}"
            )
        check_stochastic("table", table, len(outputs))
        self.table, self.inputs, self.outputs = table, inputs, outputs

    @classmethod
    def unchecked(cls, table: Array, inputs: tuple, outputs: tuple):
        """Build without validation (for results of operations on valid channels and models)."""
        obj = object.__new__(cls)
        obj.table, obj.inputs, obj.outputs = table, tuple(inputs), tuple(outputs)
        return obj

    def tree_flatten(self):
        return (self.table,), (self.inputs, self.outputs)

    @classmethod
    def tree_unflatten(cls, aux, children):
        return cls.unchecked(children[0], *aux)

    # ----------------------------------------------------------------- description
    @property
    def variables(self) -> tuple[str, ...]:
        """Inputs then outputs: the names of the table's axes, in order."""
        return self.inputs + self.outputs

    @property
    def cardinality(self) -> dict[str, int]:
        """Number of states of each variable."""
        return dict(zip(self.variables, self.table.shape))

    @property
    def dtype(self):
        return self.table.dtype

    def __repr__(self) -> str:
        card = self.cardinality
        ins = ", ".join(f"{n}:{card[n]}" for n in self.inputs)
        outs = ", ".join(f"{n}:{card[n]}" for n in self.outputs)
        return f"Channel({ins} -> {outs})"

    def array(self, order: Sequence[str] | None = None) -> Array:
        """The table with its axes in `order` (default: inputs then outputs)."""
        if order is None:
            return self.table
        order = check_names("order", order)
        if set(order) != set(self.variables):
            raise ValueError(f"order must list exactly the variables {self.variables}, got {order}")
        return jnp.transpose(self.table, [self.variables.index(n) for n in order])

    # ----------------------------------------------------------------- algebra
    def __rshift__(self, other: "Channel") -> "Channel":
        return compose(self, other)

    def __matmul__(self, other: "Channel") -> "Channel":
        return tensor(self, other)

    def marginal(self, outputs: Sequence[str]) -> "Channel":
        """Keep only some outputs (compose with `discard` on the others)."""
        outputs = check_names("outputs", outputs)
        unknown = [n for n in outputs if n not in self.outputs]
        if unknown:
            raise ValueError(
                f"unknown output(s) {unknown}; this channel's outputs are {self.outputs}"
            )
        out = contract([(self.table, self.variables)], self.inputs + outputs)
        return self.unchecked_result(out, self.inputs, outputs)

    def at(self, values: Mapping[str, int]) -> "Channel":
        """Fix some inputs to given states: `c(· | a)`; a `Distribution` once no input is left."""
        values = check_assignment("values", values, {n: self.cardinality[n] for n in self.inputs})
        table, _ = _take(self.table, self.variables, values)
        return self.unchecked_result(
            table, tuple(n for n in self.inputs if n not in values), self.outputs
        )

    def relabel(self, mapping: Mapping[str, str]) -> "Channel":
        """Rename variables (`{old: new}`); names not in `mapping` are kept."""
        new = lambda n: mapping.get(n, n)  # noqa: E731
        ins = check_names("inputs", [new(n) for n in self.inputs])
        outs = check_names("outputs", [new(n) for n in self.outputs])
        if set(ins) & set(outs):
            raise ValueError(
                f"relabelling makes {sorted(set(ins) & set(outs))} both input and output"
            )
        return self.unchecked_result(self.table, ins, outs)

    @staticmethod
    def unchecked_result(table: Array, inputs: tuple, outputs: tuple) -> "Channel":
        """A `Channel`, or a `Distribution` when there are no inputs, built without validation."""
        if inputs:
            return Channel.unchecked(table, inputs, outputs)
        return Distribution.unchecked(table, (), outputs)


@jax.tree_util.register_pytree_node_class
class Distribution(Channel):
    """A joint distribution over named finite variables (a channel with no inputs).

    Args:
        table: array with one axis per name, non-negative, summing to 1.
        names: the variables, one per axis, in order.
        normalize: divide the table by its sum first (e.g. for counts).

    Example:
        >>> omega = Distribution(jnp.array(table).reshape(2, 2, 2), ("S", "T", "C"))
        >>> omega.condition({"S": 1}).prob({"C": 1})
    """

    __slots__ = ()

    def __init__(self, table: ArrayLike, names: Sequence[str], *, normalize: bool = False):
        names = check_names("names", names)
        table = as_table("table", table)
        if table.ndim != len(names):
            raise ValueError(
                f"table must have one axis per name ({len(names)} names "
                f"{names}), got shape {table.shape}"
            )
        if normalize:
            validate.finite("table", table)
            if validate.is_concrete(table) and not float(jnp.sum(table)) > 0:
                raise ValueError("table must have a positive sum to be normalised")
            table = table / jnp.sum(table)
        check_stochastic("table", table, len(names), what="entries")
        self.table, self.inputs, self.outputs = table, (), names

    @property
    def names(self) -> tuple[str, ...]:
        """The variables, one per axis of `table`."""
        return self.outputs

    def __repr__(self) -> str:
        card = self.cardinality
        return "Distribution(" + ", ".join(f"{n}:{card[n]}" for n in self.names) + ")"

    def transpose(self, names: Sequence[str]) -> "Distribution":
        """The same distribution with its axes in the order `names`."""
        return Distribution.unchecked(self.array(names), (), tuple(names))

    def marginal(self, names: Sequence[str]) -> "Distribution":
        """The marginal over `names` (in that order)."""
        return super().marginal(names)

    def prob(self, assignment: Mapping[str, int]) -> Array:
        """P(assignment): the probability that the named variables take the given states."""
        assignment = check_assignment("assignment", assignment, self.cardinality)
        table, _ = _take(self.table, self.names, assignment)
        return jnp.sum(table)

    def condition(self, evidence: Mapping[str, int]) -> "Distribution":
        """The distribution of the other variables given `evidence` ({variable: state}).

        Raises:
            ValueError: if the evidence has probability 0 (checked when values are concrete;
                under `jit`/`vmap` a zero-probability event gives the uniform distribution).
        """
        evidence = check_assignment("evidence", evidence, self.cardinality)
        table, rest = _take(self.table, self.names, evidence)
        mass = jnp.sum(table)
        if validate.is_concrete(mass) and not float(mass) > 0:
            raise ValueError(f"cannot condition on {evidence}: it has probability 0")
        size = int(np.prod(table.shape)) if table.ndim else 1
        return Distribution.unchecked(safe_divide(table, mass, 1.0 / size), (), rest)

    def conditional(
        self, outputs: Sequence[str], given: Sequence[str], *, on_zero: str = "raise"
    ) -> Channel:
        """The disintegration ω(outputs | given) as a channel `given -> outputs`.

        Args:
            outputs: variables on the output side.
            given: variables conditioned on (disjoint from `outputs`).
            on_zero: what to do where ω(given) = 0 and the conditional is not determined:
                `"raise"` (a ValueError naming the state; under tracing the row becomes
                uniform) or `"uniform"` (fill those rows with the uniform distribution, a
                valid version of the conditional).
        """
        validate.one_of("on_zero", on_zero, ("raise", "uniform"))
        outputs = check_names("outputs", outputs)
        given = check_names("given", given)
        unknown = [n for n in outputs + given if n not in self.names]
        if unknown:
            raise ValueError(f"unknown variable(s) {unknown}; known: {list(self.names)}")
        if set(outputs) & set(given):
            raise ValueError(f"outputs and given overlap: {sorted(set(outputs) & set(given))}")
        joint = contract([(self.table, self.names)], given + outputs)
        axes = tuple(range(len(given), len(given) + len(outputs)))
        mass = jnp.sum(joint, axis=axes, keepdims=True)
        if on_zero == "raise" and validate.is_concrete(mass) and bool(jnp.any(mass <= 0)):
            bad = np.argwhere(np.asarray(mass).reshape(mass.shape[: len(given)]) <= 0)[0]
            state = {n: int(i) for n, i in zip(given, bad)}
            raise ValueError(
                f"cannot disintegrate on {list(given)}: the event {state} has "
                "probability 0 (pass on_zero='uniform' to fill such rows)"
            )
        size = int(np.prod([self.cardinality[n] for n in outputs])) if outputs else 1
        return Channel.unchecked_result(safe_divide(joint, mass, 1.0 / size), given, outputs)

    def disintegrate(self, given: Sequence[str], *, on_zero: str = "raise") -> Channel:
        """ω(rest | given): the channel from `given` to all the other variables."""
        given = check_names("given", given)
        rest = tuple(n for n in self.names if n not in given)
        return self.conditional(rest, given, on_zero=on_zero)

    def extend(self, channel: Channel) -> "Distribution":
        """The joint of this distribution and `channel` applied to (some of) its variables.

        `omega.extend(c)` is ω(x) c(y | x_inputs) over `names + channel.outputs`: copy the
        inputs, feed one copy to the channel and keep the other (the graph of the channel).
        """
        missing = [n for n in channel.inputs if n not in self.names]
        if missing:
            raise ValueError(
                f"the channel's inputs {missing} are not variables of this "
                f"distribution {self.names}"
            )
        clash = [n for n in channel.outputs if n in self.names]
        if clash:
            raise ValueError(
                f"the channel's outputs {clash} are already variables of this distribution"
            )
        names = self.names + channel.outputs
        table = contract([(self.table, self.names), (channel.table, channel.variables)], names)
        return Distribution.unchecked(table, (), names)


def compose(*channels: Channel) -> Channel:
    """Sequential composition `c1 >> c2 >> ...`: each channel's inputs are the previous outputs.

    (f >> g)(c | a) = Σ_b f(b | a) g(c | b). Names are matched, so g's inputs may list f's
    outputs in any order; g's outputs must not reuse f's inputs.

    Examples:
        >>> f = causal.Channel(jnp.array([[0.9, 0.1], [0.2, 0.8]]), ["A"], ["B"])  # (A, B)
        >>> g = causal.Channel(jnp.array([[1.0, 0.0], [0.5, 0.5]]), ["B"], ["C"])  # (B, C)
        >>> fg = causal.compose(f, g)  # the same as f >> g: Σ_b f(b | a) g(c | b)
        >>> fg.inputs, fg.outputs, bool(np.allclose(fg.array(), [[0.95, 0.05], [0.6, 0.4]]))
        (('A',), ('C',), True)
    """
    if not channels:
        raise ValueError("compose needs at least one channel")
    out = channels[0]
    for g in channels[1:]:
        f = out
        if not isinstance(g, Channel) or not isinstance(f, Channel):
            raise TypeError("compose takes Channel objects (build them with Channel/Distribution)")
        if set(g.inputs) != set(f.outputs):
            raise ValueError(
                f"cannot compose: the second channel's inputs {g.inputs} must be "
                f"exactly the first one's outputs {f.outputs} (marginalise or "
                "copy first)"
            )
        clash = set(g.outputs) & set(f.inputs)
        if clash:
            raise ValueError(
                f"cannot compose: outputs {sorted(clash)} are also inputs of the "
                "composite (relabel one side)"
            )
        for n in g.inputs:
            if f.cardinality[n] != g.cardinality[n]:
                raise ValueError(
                    f"cannot compose: {n!r} has {f.cardinality[n]} states on one "
                    f"side and {g.cardinality[n]} on the other"
                )
        table = contract([(f.table, f.variables), (g.table, g.variables)], f.inputs + g.outputs)
        out = Channel.unchecked_result(table, f.inputs, g.outputs)
    return out


def tensor(*channels: Channel) -> Channel:
    """Parallel composition `c1 @ c2 @ ...` of channels on disjoint variables.

    Examples:
        >>> pa, pb = causal.uniform("A", 2), causal.point("B", 3, 0)
        >>> joint = causal.tensor(pa, pb)  # the same as pa @ pb
        >>> joint.names, joint.array().shape
        (('A', 'B'), (2, 3))
    """
    if not channels:
        raise ValueError("tensor needs at least one channel")
    seen: set[str] = set()
    for c in channels:
        if not isinstance(c, Channel):
            raise TypeError("tensor takes Channel objects")
        clash = seen & set(c.variables)
        if clash:
            raise ValueError(
                f"tensor needs disjoint variables; {sorted(clash)} appear twice "
                "(copy a shared input explicitly, or relabel)"
            )
        seen |= set(c.variables)
    inputs = tuple(n for c in channels for n in c.inputs)
    outputs = tuple(n for c in channels for n in c.outputs)
    table = contract([(c.table, c.variables) for c in channels], inputs + outputs)
    return Channel.unchecked_result(table, inputs, outputs)


def _size(size) -> int:
    return validate.positive_int("size", size)


def identity(input: str, output: str, size: int, *, dtype=None) -> Channel:
    """The identity channel `input -> output` (the same variable under a new name).

    Examples:
        >>> i = causal.identity("X", "Y", 3)
        >>> i.inputs, i.outputs, i.array().tolist() == np.eye(3).tolist()
        (('X',), ('Y',), True)
    """
    size = _size(size)
    return Channel(jnp.eye(size, dtype=dtype or jnp.result_type(float)), (input,), (output,))


def copy(name: str, size: int, outputs: Sequence[str] | None = None, *, dtype=None) -> Channel:
    """Copy `name -> outputs`: every output equals the input (default outputs name_0, name_1).

    Examples:
        >>> c = causal.copy("X", 2)  # X -> (X_0, X_1)
        >>> c.outputs, c.array().shape  # table (X, X_0, X_1)
        (('X_0', 'X_1'), (2, 2, 2))
    """
    size = _size(size)
    outputs = check_names("outputs", outputs if outputs is not None else (f"{name}_0", f"{name}_1"))
    table = jnp.zeros((size,) * (1 + len(outputs)), dtype=dtype or jnp.result_type(float))
    idx = jnp.arange(size)
    table = table.at[(idx,) * (1 + len(outputs))].set(1.0)
    return Channel(table, (name,), outputs)


def discard(name: str, size: int, *, dtype=None) -> Channel:
    """Discard `name -> ()`: the channel with no outputs (a row of ones).

    Examples:
        >>> d = causal.discard("X", 3)  # X -> (): sums X out when composed
        >>> d.inputs, d.outputs, d.array().tolist()
        (('X',), (), [1.0, 1.0, 1.0])
    """
    return Channel(jnp.ones((_size(size),), dtype=dtype or jnp.result_type(float)), (name,), ())


def uniform(name: str, size: int, *, dtype=None) -> Distribution:
    """The uniform distribution on `size` states.

    Examples:
        >>> causal.uniform("X", 4).array().tolist()
        [0.25, 0.25, 0.25, 0.25]
    """
    size = _size(size)
    return Distribution(
        jnp.full((size,), 1.0 / size, dtype=dtype or jnp.result_type(float)), (name,)
    )


def point(name: str, size: int, value: int, *, dtype=None) -> Distribution:
    """The Dirac distribution at state `value`.

    Examples:
        >>> causal.point("X", 3, 1).array().tolist()
        [0.0, 1.0, 0.0]
    """
    size = _size(size)
    value = value_index("value", name, value, size)
    table = jax.nn.one_hot(value, size, dtype=dtype or jnp.result_type(float))
    return Distribution(table, (name,))
