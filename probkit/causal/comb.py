"""Comb disintegration (Jacobs, Kissinger & Zanasi, "Causal inference by string diagram surgery").

A 2-comb from A through a hole B to C is a channel with a hole in it: its first tooth emits A,
the hole receives A and must return B, and the second tooth emits C from (A, B). Plugging a
channel g: A -> B into the hole gives a joint state on A ⊗ B ⊗ C.

Given a full-support joint ω on A ⊗ B ⊗ C there is a unique pair (g, f) with ω = f[g]:

    g(b | a) = ω(b | a),        f = (first: ω(a), second: ω(c | a, b)),
    ω(a, b, c) = ω(a) · g(b | a) · ω(c | a, b).

When the causal diagram factors as such a comb whose hole is the only mechanism between A and C
(A affects C only through B, B's only parent is A, and a latent may confound A and C inside the
comb), cutting A and re-plugging gives the interventional distribution from ω alone:

    P(c | do(A = a)) = Σ_b g(b | a) Σ_{a'} ω(a') ω(c | a', b),

Pearl's front-door formula (`Comb.intervene`). A, B and C may each be several variables.
"""

from collections.abc import Sequence

import jax

from probkit.causal.channel import Channel, Distribution, check_names
from probkit.causal.contraction import contract

__all__ = ["Comb", "comb_disintegrate", "front_door"]


def _group(arg: str, names) -> tuple[str, ...]:
    names = check_names(arg, names)
    if not names:
        raise ValueError(f"{arg} must name at least one variable")
    return names


def _prime(name: str):
    return (name, "'")


@jax.tree_util.register_pytree_node_class
class Comb:
    """A 2-comb with first tooth ω(a), hole a -> b, and second tooth ω(c | a, b).

    Args:
        first: `Distribution` over the A variables.
        second: `Channel` from A + B to C.
        hole: the B variables, the outputs the hole must provide.
    """

    __slots__ = ("first", "hole", "second")

    def __init__(self, first: Distribution, second: Channel, hole: Sequence[str]):
        if not isinstance(first, Distribution) or not isinstance(second, Channel):
            raise TypeError("Comb(first, second, hole) takes a Distribution and a Channel")
        hole = _group("hole", hole)
        a = first.names
        if set(second.inputs) != set(a) | set(hole) or len(second.inputs) != len(a) + len(hole):
            raise ValueError(
                f"the second tooth's inputs {second.inputs} must be the first "
                f"tooth's variables {a} plus the hole's {hole}"
            )
        self.first, self.second, self.hole = first, second, hole

    def tree_flatten(self):
        return (self.first, self.second), self.hole

    @classmethod
    def tree_unflatten(cls, hole, children):
        obj = object.__new__(cls)
        obj.first, obj.second, obj.hole = children[0], children[1], hole
        return obj

    @property
    def a(self) -> tuple[str, ...]:
        """The variables emitted by the first tooth (and fed to the hole)."""
        return self.first.names

    @property
    def c(self) -> tuple[str, ...]:
        """The variables emitted by the second tooth."""
        return self.second.outputs

    def __repr__(self) -> str:
        return f"Comb({', '.join(self.a)} -> [{', '.join(self.hole)}] -> {', '.join(self.c)})"

    def _check_plug(self, channel: Channel) -> None:
        if not isinstance(channel, Channel):
            raise TypeError(f"channel must be a Channel, got {type(channel).__name__}")
        if set(channel.inputs) != set(self.a) or set(channel.outputs) != set(self.hole):
            raise ValueError(
                f"the hole takes a channel {self.a} -> {self.hole}, got "
                f"{channel.inputs} -> {channel.outputs}"
            )

    def plug(self, channel: Channel) -> Distribution:
        """f[g]: the joint over A + B + C with `channel` (A -> B) in the hole."""
        self._check_plug(channel)
        return self.first.extend(channel).extend(self.second)

    def intervene(self, channel: Channel) -> Channel:
        """The comb with A cut from the hole: a ↦ Σ_b g(b | a) Σ_a' ω(a') ω(c | a', b).

        With the comb and channel from `comb_disintegrate`, this is P(C | do(A)) in any causal
        model whose diagram factors through the comb (the front-door case).
        """
        self._check_plug(channel)
        ren = {n: _prime(n) for n in self.a}
        factors = [
            (channel.table, channel.variables),
            (self.first.table, tuple(ren[n] for n in self.first.names)),
            (self.second.table, tuple(ren.get(n, n) for n in self.second.variables)),
        ]
        table = contract(factors, self.a + self.c)
        return Channel.unchecked(table, self.a, self.c)

    def as_channel(self) -> Channel:
        """The comb as a plain channel B -> A + C: f(a, c | b) = ω(a) ω(c | a, b)."""
        table = contract(
            [(self.first.table, self.a), (self.second.table, self.second.variables)],
            self.hole + self.a + self.c,
        )
        return Channel.unchecked(table, self.hole, self.a + self.c)


def comb_disintegrate(
    joint: Distribution,
    a: str | Sequence[str],
    b: str | Sequence[str],
    c: str | Sequence[str],
    *,
    on_zero: str = "raise",
) -> tuple[Channel, Comb]:
    """Split a joint ω on A ⊗ B ⊗ C into the channel g = ω(B | A) and the 2-comb around it.

    Args:
        joint: a `Distribution` containing the variables of a, b and c (others are summed out).
        a: the first tooth's variables (the treatment): a name or a sequence of names.
        b: the hole's variables (the mediator), disjoint from a and c.
        c: the second tooth's variables (the outcome).
        on_zero: `"raise"` (default) if ω(a) or ω(a, b) vanishes somewhere — the disintegration
            is then not unique — or `"uniform"` to fill those conditionals uniformly.

    Returns:
        `(g, comb)` with `comb.plug(g)` equal to the marginal of `joint` on a + b + c, and
        `comb.intervene(g)` the cut-and-replug channel A -> C (front-door formula).

    Examples:
        >>> table = jnp.array([0.50, 0.10, 0.01, 0.02, 0.10, 0.05, 0.02, 0.20]).reshape(2, 2, 2)
        >>> omega = causal.Distribution(table, ("S", "T", "C"))  # smoking, tar, cancer
        >>> g, comb = causal.comb_disintegrate(omega, "S", "T", "C")  # g = ω(T | S)
        >>> do = comb.intervene(g)  # the channel S -> C, s ↦ P(C | do(S = s))
        >>> round(float(do.at({"S": 1}).prob({"C": 1})), 4)
        0.5423
        >>> bool(jnp.allclose(comb.plug(g).array(("S", "T", "C")), table))  # f[g] = ω
        True
    """
    if not isinstance(joint, Distribution):
        raise TypeError(f"joint must be a Distribution, got {type(joint).__name__}")
    a, b, c = _group("a", a), _group("b", b), _group("c", c)
    everything = a + b + c
    if len(set(everything)) != len(everything):
        raise ValueError(f"a, b and c must be disjoint, got {a}, {b}, {c}")
    unknown = [n for n in everything if n not in joint.names]
    if unknown:
        raise ValueError(f"unknown variable(s) {unknown}; the joint is over {joint.names}")
    omega = joint.marginal(everything)
    g = omega.conditional(b, a, on_zero=on_zero)
    second = omega.conditional(c, a + b, on_zero=on_zero)
    return g, Comb(omega.marginal(a), second, b)


def front_door(
    joint: Distribution,
    treatment: str | Sequence[str],
    mediator: str | Sequence[str],
    outcome: str | Sequence[str],
) -> Channel:
    """P(outcome | do(treatment)) by the front-door formula, via comb disintegration.

    Valid when `mediator` satisfies Pearl's front-door criterion for (treatment, outcome);
    `causal.identify` checks that from the graph. Returns a channel treatment -> outcome.

    Examples:
        >>> table = jnp.array([0.50, 0.10, 0.01, 0.02, 0.10, 0.05, 0.02, 0.20]).reshape(2, 2, 2)
        >>> omega = causal.Distribution(table, ("S", "T", "C"))  # T mediates S -> C
        >>> do = causal.front_door(omega, "S", "T", "C")  # channel S -> C
        >>> [round(float(do.at({"S": s}).prob({"C": 1})), 4) for s in (0, 1)]
        [0.2535, 0.5423]
    """
    g, comb = comb_disintegrate(joint, treatment, mediator, outcome)
    return comb.intervene(g)
