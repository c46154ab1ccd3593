"""Estimands: symbolic formulas in observational probabilities, printable and evaluable.

An identification algorithm returns an expression tree built from

- `Prob(vars, given)`: the observational conditional P(vars | given),
- `Product(terms)`, `Sum(over, body)` and `Ratio(numerator, denominator)`,

whose free variables are the treatment and outcome. `Estimand.evaluate(joint, {"S": 1})` turns
the tree into one einsum per node over the observational joint and returns the interventional
distribution of the outcome; `str(estimand)` prints the formula with bound variables primed where
they shadow free ones, e.g. `P(C | do(S)) = Σ_{T} P(T | S) [Σ_{S'} P(S') P(C | S', T)]`.
"""

import dataclasses
from collections.abc import Mapping

import jax.numpy as jnp
import numpy as np

from probkit.causal.channel import Distribution, check_assignment, safe_divide
from probkit.causal.contraction import contract, take
from probkit.core import validate
from probkit.core.types import Array

__all__ = ["Estimand", "Expr", "Prob", "Product", "Ratio", "Sum", "free_variables"]


class Expr:
    """Base class of estimand expressions (immutable, hashable)."""

    def __str__(self) -> str:
        return _text(self, {}, set())


@dataclasses.dataclass(frozen=True, eq=True, repr=False)
class Prob(Expr):
    """The observational probability P(variables | given).

    Attributes:
        variables: the variables whose law is taken.
        given: the conditioning variables (empty: a marginal).
    """

    variables: tuple[str, ...]
    given: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, eq=True, repr=False)
class Product(Expr):
    """The product of its terms (the empty product is 1).

    Attributes:
        terms: the factors.
    """

    terms: tuple[Expr, ...]


@dataclasses.dataclass(frozen=True, eq=True, repr=False)
class Sum(Expr):
    """Σ over the states of `over` of `body`.

    Attributes:
        over: the variables summed out.
        body: the summand.
    """

    over: tuple[str, ...]
    body: Expr


@dataclasses.dataclass(frozen=True, eq=True, repr=False)
class Ratio(Expr):
    """numerator / denominator (0 where both vanish).

    Attributes:
        numerator: an expression.
        denominator: an expression.
    """

    numerator: Expr
    denominator: Expr


ONE = Product(())


def free_variables(expr: Expr, *, bound: bool = False) -> frozenset[str]:
    """Variables an expression depends on; with `bound=True`, also those summed over."""
    if isinstance(expr, Prob):
        return frozenset(expr.variables) | frozenset(expr.given)
    if isinstance(expr, Product):
        return frozenset().union(*(free_variables(t, bound=bound) for t in expr.terms))
    if isinstance(expr, Sum):
        inner = free_variables(expr.body, bound=bound)
        return inner | frozenset(expr.over) if bound else inner - frozenset(expr.over)
    if isinstance(expr, Ratio):
        return free_variables(expr.numerator, bound=bound) | free_variables(
            expr.denominator, bound=bound
        )
    raise TypeError(f"not an estimand expression: {expr!r}")


# ---------------------------------------------------------------------- construction helpers
def product(terms) -> Expr:
    """A flattened product without factors of 1."""
    flat = []
    for t in terms:
        if isinstance(t, Product):
            flat.extend(t.terms)
        else:
            flat.append(t)
    if len(flat) == 1:
        return flat[0]
    return Product(tuple(flat))


def summation(over, body: Expr, rank) -> Expr:
    """Σ_over body, simplified by Σ_W P(A | B) = P(A \\ W | B) where W occurs nowhere else."""
    over = set(over) & set(free_variables(body))
    if not over:
        return body
    if isinstance(body, Sum) and not (set(body.over) & over):
        return summation(over | set(body.over), body.body, rank)
    terms = list(body.terms) if isinstance(body, Product) else [body]
    changed = True
    while changed and over:
        changed = False
        for i, t in enumerate(terms):
            if not isinstance(t, Prob):
                continue
            others = frozenset().union(*(free_variables(u) for j, u in enumerate(terms) if j != i))
            drop = {v for v in t.variables if v in over and v not in others}
            if drop:
                keep = tuple(v for v in t.variables if v not in drop)
                terms[i] = Prob(keep, t.given) if keep else ONE
                over -= drop
                changed = True
        terms = [t for t in terms if t != ONE]
    body = product(terms) if terms else ONE
    if not over:
        return body
    return Sum(tuple(sorted(over, key=rank)), body)


# ---------------------------------------------------------------------- text and LaTeX
def _fresh(name: str, taken: set) -> str:
    while name in taken:
        name += "'"
    return name


def _text(expr: Expr, names: dict, taken: set, latex: bool = False) -> str:
    show = lambda v: names.get(v, v)  # noqa: E731
    if isinstance(expr, Prob):
        head = ", ".join(show(v) for v in expr.variables)
        if expr.given:
            bar = r" \mid " if latex else " | "
            head += bar + ", ".join(show(v) for v in expr.given)
        return f"P({head})"
    if isinstance(expr, Product):
        if not expr.terms:
            return "1"
        parts = []
        for t in expr.terms:
            s = _text(t, names, taken, latex)
            parts.append(
                (r"\left[" + s + r"\right]" if latex else f"[{s}]")
                if isinstance(t, Sum | Ratio)
                else s
            )
        return (r" \, " if latex else " ").join(parts)
    if isinstance(expr, Sum):
        inner, new_taken = dict(names), set(taken)
        shown = []
        for v in expr.over:
            inner[v] = _fresh(v, new_taken)
            new_taken.add(inner[v])
            shown.append(inner[v])
        body = _text(expr.body, inner, new_taken, latex)
        if latex:
            return r"\sum_{" + ", ".join(shown) + "} " + body
        return "Σ_{" + ", ".join(shown) + "} " + body
    num = _text(expr.numerator, names, taken, latex)
    den = _text(expr.denominator, names, taken, latex)
    if latex:
        return r"\frac{" + num + "}{" + den + "}"
    wrap = lambda s, e: s if isinstance(e, Prob) else f"({s})"  # noqa: E731
    return f"{wrap(num, expr.numerator)} / {wrap(den, expr.denominator)}"


# ---------------------------------------------------------------------- evaluation
def _align(table: Array, names: tuple, target: tuple) -> Array:
    """`table` (axes `names`) transposed and expanded to broadcast against axes `target`."""
    perm = [names.index(n) for n in target if n in names]
    table = jnp.transpose(table, perm) if perm else table
    shape = [table.shape[perm.index(names.index(n))] if n in names else 1 for n in target]
    return jnp.reshape(table, shape)


class _Evaluator:
    def __init__(self, joint: Distribution):
        self.joint = joint
        self.cache: dict = {}

    def __call__(self, expr: Expr) -> tuple[Array, tuple]:
        if expr in self.cache:
            return self.cache[expr]
        out = self._eval(expr)
        self.cache[expr] = out
        return out

    def _marginal(self, names: tuple) -> Array:
        return contract([(self.joint.table, self.joint.names)], names)

    def _eval(self, expr: Expr) -> tuple[Array, tuple]:
        if isinstance(expr, Prob):
            names = expr.given + expr.variables
            num = self._marginal(names)
            if not expr.given:
                return num, names
            den = self._marginal(expr.given)
            den = jnp.reshape(den, den.shape + (1,) * len(expr.variables))
            return safe_divide(num, den, 0.0), names
        if isinstance(expr, Product | Sum):
            body = expr.body if isinstance(expr, Sum) else expr
            terms = body.terms if isinstance(body, Product) else (body,)
            factors = [self(t) for t in terms]
            keep = tuple(sorted(free_variables(expr)))
            if not factors:
                return jnp.ones((), dtype=self.joint.dtype), ()
            return contract(factors, keep), keep
        num, n_names = self(expr.numerator)
        den, d_names = self(expr.denominator)
        names = n_names + tuple(n for n in d_names if n not in n_names)
        ratio = safe_divide(_align(num, n_names, names), _align(den, d_names, names), 0.0)
        return ratio, names


@dataclasses.dataclass(frozen=True)
class Estimand:
    """An identified interventional distribution P(outcome | do(treatment)).

    Attributes:
        treatment: the intervened variables.
        outcome: the outcome variables.
        expression: the formula, an `Expr` in observational probabilities.
        method: `"back-door"`, `"front-door"` or `"ID"` (Shpitser–Pearl).
        adjustment: the back-door adjustment set or the front-door mediators (else None).
    """

    treatment: tuple[str, ...]
    outcome: tuple[str, ...]
    expression: Expr
    method: str
    adjustment: tuple[str, ...] | None = None
    identifiable = True  # (class attribute) see `identification.NotIdentifiable`

    @property
    def formula(self) -> str:
        """The estimand as text, e.g. `P(C | do(S)) = Σ_{T} P(T | S) [...]`."""
        return f"{self._lhs()} = {_text(self.expression, {}, set(self.treatment + self.outcome))}"

    def latex(self) -> str:
        """The estimand in LaTeX."""
        lhs = self._lhs(latex=True)
        return lhs + " = " + _text(self.expression, {}, set(self.treatment + self.outcome), True)

    def _lhs(self, latex: bool = False) -> str:
        bar = r" \mid " if latex else " | "
        return f"P({', '.join(self.outcome)}{bar}do({', '.join(self.treatment)}))"

    def __str__(self) -> str:
        return self.formula

    def _repr_latex_(self) -> str:
        return f"${self.latex()}$"

    @property
    def variables(self) -> frozenset[str]:
        """Observed variables whose joint distribution the estimand needs."""
        named = frozenset(self.treatment) | frozenset(self.outcome)
        return free_variables(self.expression, bound=True) | named

    def evaluate(self, joint: Distribution, treatment: Mapping[str, int]) -> Distribution:
        """P(outcome | do(treatment = values)) computed from an observational joint.

        Args:
            joint: a `Distribution` over (at least) the observed variables the formula uses.
            treatment: `{variable: state}` for every treatment variable.

        Returns:
            A `Distribution` over the outcome variables.

        Raises:
            ValueError: missing variables, or a joint that violates the positivity the
                formula needs (the result would not sum to 1); checked when values are
                concrete.
        """
        if not isinstance(joint, Distribution):
            raise TypeError(f"joint must be a Distribution, got {type(joint).__name__}")
        missing = sorted(self.variables - set(joint.names))
        if missing:
            raise ValueError(f"the joint lacks variable(s) {missing} that the estimand uses")
        values = check_assignment("treatment", treatment, joint.cardinality)
        if set(values) != set(self.treatment):
            raise ValueError(
                f"treatment must give a state for each of {list(self.treatment)}, "
                f"got {sorted(values)}"
            )
        if self.method == "front-door":
            from probkit.causal.comb import front_door

            channel = front_door(joint, self.treatment, self.adjustment, self.outcome)
            return channel.at(values)
        table, names = _Evaluator(joint)(self.expression)
        for var in sorted((v for v in names if v in values), key=names.index, reverse=True):
            table = take(table, values[var], names.index(var))
        names = tuple(n for n in names if n not in values)
        table = _align(table, names, self.outcome)
        table = jnp.broadcast_to(table, tuple(joint.cardinality[v] for v in self.outcome))
        if validate.is_concrete(table):
            total = float(jnp.sum(table))
            if not np.isclose(total, 1.0, atol=1e-6):
                raise ValueError(
                    f"the joint violates the positivity this estimand needs at "
                    f"{values}: the result sums to {total:.6g}, not 1"
                )
        return Distribution.unchecked(table, (), self.outcome)
