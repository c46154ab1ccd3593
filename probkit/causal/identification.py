"""Identification of P(y | do(x)) from the observational distribution.

`identify(graph, treatment, outcome, latent=...)` decides whether the interventional distribution
is a function of the observed joint alone, and if so returns an `Estimand` (a formula you can
print and evaluate). It is complete for semi-Markovian models: the graph's latent nodes are first
projected away (Verma's latent projection) into an acyclic directed mixed graph (ADMG) over the
observed nodes, with a bidirected edge between two nodes that share a latent ancestor through
latent-only paths; then

1. if no treatment is an ancestor of the outcome, the answer is P(outcome);
2. a single treatment with a back-door adjustment set Z gives Σ_z P(y | x, z) P(z);
3. a single treatment and outcome with a front-door mediator set M gives
   Σ_m P(m | x) Σ_x' P(y | x', m) P(x'), evaluated by comb disintegration;
4. otherwise the Shpitser–Pearl ID algorithm (Shpitser & Pearl, AAAI 2006; Tian & Pearl 2002)
   either returns a formula or fails on a *hedge*: two C-forests F' ⊂ F for the outcome's
   ancestors, F containing treatment variables and F' none. A hedge certifies that the effect
   is not identifiable (two models agree on the observed joint but not on the effect).

`find_hedge` is the companion call that returns that certificate (None when identifiable);
`backdoor_set` and `frontdoor_set` expose the two criteria on their own.
"""

import dataclasses
from collections.abc import Sequence
from typing import NamedTuple

import networkx as nx

from probkit.causal.channel import check_names
from probkit.causal.estimand import (
    Estimand,
    Prob,
    Ratio,
    Sum,
    free_variables,
    product,
    summation,
)
from probkit.causal.model import CausalModel, check_dag
from probkit.core import validate

__all__ = [
    "Hedge",
    "NotIdentifiable",
    "NotIdentifiableError",
    "backdoor_set",
    "find_hedge",
    "frontdoor_set",
    "identify",
    "latent_projection",
]


class Hedge(NamedTuple):
    """A hedge for P(y | do(x)): C-forests F' ⊂ F, F ∩ x ≠ ∅, F' ∩ x = ∅ (not identifiable).

    Attributes:
        f: F: a C-forest that meets the treatment.
        f_prime: F': a C-forest inside F that avoids the treatment.
    """

    f: frozenset  # F: a C-forest that meets the treatment
    f_prime: frozenset  # F': a C-forest inside F that avoids the treatment

    def __str__(self) -> str:
        show = lambda s: "{" + ", ".join(sorted(s)) + "}"  # noqa: E731
        return f"hedge F = {show(self.f)}, F' = {show(self.f_prime)}"


class NotIdentifiableError(ValueError):
    """Raised by `NotIdentifiable.evaluate`: the effect has no formula in the observed joint."""


@dataclasses.dataclass(frozen=True)
class NotIdentifiable:
    """What `identify` returns for an effect that is not identifiable; falsy, so `if est:` works.

    Attributes:
        treatment: the intervened variables.
        outcome: the outcome variables.
        hedge: the `Hedge` found by the ID algorithm (the reason; Shpitser & Pearl 2006).
    """

    treatment: tuple[str, ...]
    outcome: tuple[str, ...]
    hedge: Hedge
    identifiable = False

    def __bool__(self) -> bool:
        return False

    @property
    def reason(self) -> str:
        """Why, in words."""
        return (
            f"P({', '.join(self.outcome)} | do({', '.join(self.treatment)})) is not identifiable "
            f"from the observed distribution: the graph has a {self.hedge} (two C-forests that "
            "the observed joint cannot tell apart); measure a variable of F that is not in F' or "
            "add assumptions"
        )

    def evaluate(self, *args, **kwargs):
        """Always raises `NotIdentifiableError` with the reason."""
        raise NotIdentifiableError(self.reason)

    def __str__(self) -> str:
        return self.reason


class _Fail(Exception):
    def __init__(self, hedge: Hedge):
        super().__init__(str(hedge))
        self.hedge = hedge


class ADMG:
    """An acyclic directed mixed graph: directed parents and bidirected neighbours per node."""

    def __init__(self, nodes: Sequence[str], parents: dict, siblings: dict):
        self.nodes = tuple(nodes)
        keep = set(self.nodes)
        self.parents = {v: frozenset(parents[v]) & keep for v in self.nodes}
        self.siblings = {v: frozenset(siblings[v]) & keep for v in self.nodes}

    def sub(self, keep) -> "ADMG":
        return ADMG([v for v in self.nodes if v in keep], self.parents, self.siblings)

    def ancestors(self, nodes, cut=frozenset()) -> frozenset:
        """`nodes` and their ancestors, ignoring edges into the nodes of `cut`."""
        out, stack = set(), list(nodes)
        while stack:
            v = stack.pop()
            if v not in out:
                out.add(v)
                if v not in cut:
                    stack.extend(self.parents[v])
        return frozenset(out)

    def c_components(self) -> list[frozenset]:
        """Connected components of the bidirected part, in topological order of first node."""
        seen, comps = set(), []
        for v in self.nodes:
            if v in seen:
                continue
            comp, stack = set(), [v]
            while stack:
                u = stack.pop()
                if u not in comp:
                    comp.add(u)
                    stack.extend(self.siblings[u])
            seen |= comp
            comps.append(frozenset(comp))
        return comps

    @property
    def bidirected(self) -> list[tuple[str, str]]:
        rank = {v: i for i, v in enumerate(self.nodes)}
        return sorted(
            {tuple(sorted((u, v), key=rank.get)) for u in self.nodes for v in self.siblings[u]},
            key=lambda e: (rank[e[0]], rank[e[1]]),
        )


def _observed_reach(start, step, latent: set) -> set:
    """Observed nodes reached from `start` by `step` (successors or predecessors), passing only
    through latent nodes."""
    found, stack, seen = set(), list(start), set()
    while stack:
        u = stack.pop()
        if u in seen:
            continue
        seen.add(u)
        if u in latent:
            stack.extend(step(u))
        else:
            found.add(u)
    return found


def latent_projection(graph: nx.DiGraph, latent: Sequence[str]) -> ADMG:
    """Project latent nodes away: u -> v if a directed path u -> ... -> v has only latent
    intermediate nodes; u <-> v if some latent node reaches both through latent-only paths.

    Examples:
        >>> import networkx as nx
        >>> g = nx.DiGraph([("H", "X"), ("H", "Y"), ("X", "M"), ("M", "Y")])
        >>> admg = causal.latent_projection(g, ["H"])  # H becomes X <-> Y
        >>> admg.nodes, sorted(admg.siblings["X"]), sorted(admg.parents["Y"])
        (('X', 'M', 'Y'), ['Y'], ['M'])
    """
    latent = set(latent)
    order = [v for v in nx.lexicographical_topological_sort(graph) if v not in latent]
    parents = {v: _observed_reach(graph.predecessors(v), graph.predecessors, latent) for v in order}
    siblings = {v: set() for v in order}
    for h in latent:
        reach = _observed_reach(graph.successors(h), graph.successors, latent)
        for u in reach:
            siblings[u] |= reach - {u}
    return ADMG(order, parents, siblings)


# ---------------------------------------------------------------------- inputs
class _Problem(NamedTuple):
    dag: nx.DiGraph  # the DAG with every latent node explicit
    admg: ADMG  # its projection on the observed nodes
    treatment: tuple
    outcome: tuple


def _problem(graph, treatment, outcome, latent, bidirected) -> _Problem:
    if isinstance(graph, CausalModel):
        latent = tuple(latent) or graph.latent
        graph = graph.graph
    dag = nx.DiGraph(check_dag(graph))
    latent = check_names("latent", latent)
    bad = [v for v in latent if v not in dag]
    if bad:
        raise ValueError(f"latent names node(s) {bad} that are not in the graph")
    latent = list(latent)
    for k, pair in enumerate(bidirected):
        try:
            u, v = pair
        except (TypeError, ValueError):
            raise TypeError(f"bidirected[{k}] must be a pair of nodes, got {pair!r}") from None
        for n in (u, v):
            if n not in dag or n in latent:
                raise ValueError(f"bidirected[{k}] = {pair!r}: {n!r} is not an observed node")
        h = f"U[{u},{v}]"
        while h in dag:
            h += "'"
        dag.add_edges_from([(h, u), (h, v)])
        latent.append(h)
    treatment = check_names("treatment", treatment)
    outcome = check_names("outcome", outcome)
    for arg, names in (("treatment", treatment), ("outcome", outcome)):
        if not names:
            raise ValueError(f"{arg} must name at least one variable")
        unknown = [n for n in names if n not in dag]
        if unknown:
            raise ValueError(
                f"{arg} names unknown variable(s) {unknown}; the graph has {sorted(dag.nodes)}"
            )
        hidden = [n for n in names if n in latent]
        if hidden:
            raise ValueError(
                f"{arg} names latent variable(s) {hidden}; only observed "
                "variables can be treated or measured"
            )
    both = set(treatment) & set(outcome)
    if both:
        raise ValueError(f"treatment and outcome overlap: {sorted(both)}")
    return _Problem(dag, latent_projection(dag, latent), treatment, outcome)


def _descendants(dag: nx.DiGraph, nodes) -> set:
    out = set(nodes)
    for v in nodes:
        out |= nx.descendants(dag, v)
    return out


def _without_out_edges(dag: nx.DiGraph, nodes) -> nx.DiGraph:
    g = dag.copy()
    g.remove_edges_from([(u, w) for u in nodes for w in dag.successors(u)])
    return g


def _is_backdoor(p: _Problem, z: set) -> bool:
    if z & _descendants(p.dag, p.treatment):
        return False
    g = _without_out_edges(p.dag, p.treatment)
    return nx.is_d_separator(g, set(p.treatment), set(p.outcome), z)


def _backdoor(p: _Problem) -> tuple | None:
    if len(p.treatment) != 1:
        return None
    observed = set(p.admg.nodes)
    ancestors = set()
    for v in p.treatment + p.outcome:
        ancestors |= nx.ancestors(p.dag, v)
    z = (ancestors & observed) - _descendants(p.dag, p.treatment) - set(p.outcome)
    if not _is_backdoor(p, z):
        return None
    for v in reversed(p.admg.nodes):  # prune to a minimal set, latest variables first
        if v in z and _is_backdoor(p, z - {v}):
            z = z - {v}
    return tuple(v for v in p.admg.nodes if v in z)


def _is_frontdoor(p: _Problem, m: set) -> bool:
    (x,), (y,) = p.treatment, p.outcome
    cut = p.dag.copy()
    cut.remove_nodes_from(m)
    if y in nx.descendants(cut, x):
        return False
    if not nx.is_d_separator(_without_out_edges(p.dag, [x]), {x}, m, set()):
        return False
    return nx.is_d_separator(_without_out_edges(p.dag, m), m, {y}, {x})


def _frontdoor(p: _Problem) -> tuple | None:
    if len(p.treatment) != 1 or len(p.outcome) != 1:
        return None
    (x,), (y,) = p.treatment, p.outcome
    observed = set(p.admg.nodes)
    between = (nx.descendants(p.dag, x) & nx.ancestors(p.dag, y) & observed) - {x, y}
    children = between & set(p.dag.successors(x))
    for m in (children, between):
        if m and _is_frontdoor(p, m):
            return tuple(v for v in p.admg.nodes if v in m)
    return None


# ---------------------------------------------------------------------- the ID algorithm
class _Dist(NamedTuple):
    """The current distribution of the ID recursion, over `domain`."""

    expr: object
    domain: frozenset
    base: bool  # expr is a marginal of the observational joint
    chain: dict | None  # {v: P(v | predecessors)} when expr is their product


class _ID:
    def __init__(self, admg: ADMG):
        self.rank = {v: i for i, v in enumerate(admg.nodes)}

    def srt(self, nodes) -> tuple:
        return tuple(sorted(nodes, key=self.rank.__getitem__))

    def marginal(self, p: _Dist, keep) -> _Dist:
        keep = frozenset(keep)
        if keep == p.domain:
            return p
        if p.base:
            return _Dist(Prob(self.srt(keep)), keep, True, None)
        gone = p.domain - keep
        if p.chain is not None and max(map(self.rank.get, keep), default=-1) < min(
            map(self.rank.get, gone)
        ):
            chain = {v: p.chain[v] for v in self.srt(keep)}
            return _Dist(product(chain.values()), keep, False, chain)
        return _Dist(summation(gone, p.expr, self.rank.get), keep, False, None)

    def conditional(self, p: _Dist, v: str, before: frozenset):
        """p(v | before), where `before` holds the domain's nodes that precede v."""
        if p.base:
            return Prob((v,), self.srt(before))
        if p.chain is not None:
            return p.chain[v]
        num = self.marginal(p, before | {v}).expr
        if not before:
            return num
        return Ratio(num, self.marginal(p, before).expr)

    def __call__(self, y: frozenset, x: frozenset, p: _Dist, g: ADMG):
        v_all = frozenset(g.nodes)
        if not x:  # line 1
            return self.marginal(p, y).expr
        an = g.ancestors(y)
        if v_all - an:  # line 2
            return self(y, x & an, self.marginal(p, an), g.sub(an))
        w = (v_all - x) - g.ancestors(y, cut=x)
        if w:  # line 3
            return self(y, x | w, p, g)
        comps = g.sub(v_all - x).c_components()
        if len(comps) > 1:  # line 4
            terms = [self(s, v_all - s, p, g) for s in comps]
            return summation(v_all - (y | x), product(terms), self.rank.get)
        (s,) = comps
        whole = g.c_components()
        if len(whole) == 1:  # line 5
            raise _Fail(Hedge(v_all, s))
        before = lambda v: frozenset(u for u in g.nodes if self.rank[u] < self.rank[v])  # noqa: E731
        if s in whole:  # line 6
            terms = [self.conditional(p, v, before(v)) for v in self.srt(s)]
            return summation(s - y, product(terms), self.rank.get)
        s2 = next(c for c in whole if s < c)  # line 7
        chain = {v: self.conditional(p, v, before(v)) for v in self.srt(s2)}
        p2 = _Dist(product(chain.values()), s2, False, chain)
        return self(y, x & s2, p2, g.sub(s2))


def _run_id(p: _Problem):
    algo = _ID(p.admg)
    top = _Dist(Prob(p.admg.nodes), frozenset(p.admg.nodes), True, None)
    return algo(frozenset(p.outcome), frozenset(p.treatment), top, p.admg), algo


def identify(
    graph: nx.DiGraph | CausalModel,
    treatment: str | Sequence[str],
    outcome: str | Sequence[str],
    *,
    latent: Sequence[str] = (),
    bidirected: Sequence[tuple[str, str]] = (),
    method: str = "auto",
) -> "Estimand | NotIdentifiable":
    """Identify P(outcome | do(treatment)) from the observational distribution.

    Args:
        graph: a networkx DiGraph (acyclic, string nodes) or a `CausalModel`.
        treatment: a variable name or a list of them.
        outcome: a variable name or a list of them (disjoint from the treatment).
        latent: unobserved nodes of `graph` (for a `CausalModel`, its own latents by default).
        bidirected: extra pairs of observed nodes confounded by an unnamed latent.
        method: `"auto"` (back-door and front-door fast paths, then ID) or `"id"` (always the
            general algorithm).

    Returns:
        An `Estimand` (`est.identifiable` is True, `str(est)` is the formula,
        `est.evaluate(joint, {"S": 1})` the interventional distribution), or, when the effect is
        not identifiable, a falsy `NotIdentifiable` whose `identifiable` is False, `hedge` the
        reason and `evaluate` raises `NotIdentifiableError` saying so.

    Examples:
        >>> import networkx as nx
        >>> g = nx.DiGraph([("H", "S"), ("H", "C"), ("S", "T"), ("T", "C")])  # H latent
        >>> est = causal.identify(g, "S", "C", latent=["H"])
        >>> est.identifiable, est.method
        (True, 'front-door')
        >>> table = jnp.array([0.50, 0.10, 0.01, 0.02, 0.10, 0.05, 0.02, 0.20]).reshape(2, 2, 2)
        >>> omega = causal.Distribution(table, ("S", "T", "C"))
        >>> round(float(est.evaluate(omega, {"S": 1}).prob({"C": 1})), 4)
        0.5423
    """
    validate.one_of("method", method, ("auto", "id"))
    p = _problem(graph, treatment, outcome, latent, bidirected)
    causal = p.admg.ancestors(p.outcome) & set(p.treatment)
    if method == "auto" and causal:
        z = _backdoor(p)
        if z is not None:
            expr = summation(
                z,
                product([Prob(p.outcome, p.treatment + z), Prob(z)])
                if z
                else Prob(p.outcome, p.treatment),
                _rank(p).get,
            )
            return Estimand(p.treatment, p.outcome, expr, "back-door", z)
        m = _frontdoor(p)
        if m is not None:
            inner = summation(
                p.treatment,
                product([Prob(p.treatment), Prob(p.outcome, _sorted(p, p.treatment + m))]),
                _rank(p).get,
            )
            expr = summation(m, product([Prob(m, p.treatment), inner]), _rank(p).get)
            return Estimand(p.treatment, p.outcome, expr, "front-door", m)
    try:
        expr, _ = _run_id(p)
    except _Fail as fail:
        return NotIdentifiable(p.treatment, p.outcome, fail.hedge)
    # Line 3 of ID intervenes on extra variables W that cannot affect the outcome once the
    # treatment is fixed, so the formula is constant in w; average it against P(W) to make it a
    # function of the observed joint alone (any weights give the same value).
    extra = free_variables(expr) - set(p.treatment) - set(p.outcome)
    if extra:
        w = _sorted(p, extra)
        expr = Sum(w, product([Prob(w), expr]))
    return Estimand(p.treatment, p.outcome, expr, "ID")


def _rank(p: _Problem) -> dict:
    return {v: i for i, v in enumerate(p.admg.nodes)}


def _sorted(p: _Problem, names) -> tuple:
    rank = _rank(p)
    return tuple(sorted(set(names), key=rank.__getitem__))


def find_hedge(
    graph: nx.DiGraph | CausalModel,
    treatment: str | Sequence[str],
    outcome: str | Sequence[str],
    *,
    latent: Sequence[str] = (),
    bidirected: Sequence[tuple[str, str]] = (),
) -> Hedge | None:
    """The hedge that blocks identification of P(outcome | do(treatment)), or None.

    Same arguments as `identify`. A returned `Hedge(f, f_prime)` names the observed nodes of
    the two C-forests found by the ID algorithm.

    Examples:
        >>> import networkx as nx
        >>> g = nx.DiGraph([("X", "Y")])
        >>> hedge = causal.find_hedge(g, "X", "Y", bidirected=[("X", "Y")])  # the bow graph
        >>> sorted(hedge.f), sorted(hedge.f_prime)
        (['X', 'Y'], ['Y'])
        >>> causal.find_hedge(g, "X", "Y") is None  # no confounding: identifiable
        True
    """
    p = _problem(graph, treatment, outcome, latent, bidirected)
    try:
        _run_id(p)
    except _Fail as fail:
        return fail.hedge
    return None


def backdoor_set(
    graph: nx.DiGraph | CausalModel,
    treatment: str | Sequence[str],
    outcome: str | Sequence[str],
    *,
    latent: Sequence[str] = (),
    bidirected: Sequence[tuple[str, str]] = (),
) -> tuple[str, ...] | None:
    """A minimal observed set satisfying Pearl's back-door criterion, or None.

    Only single treatments are searched; the candidate is every observed ancestor of the
    treatment and outcome that is not a descendant of the treatment, pruned to a minimal
    valid subset.

    Examples:
        >>> import networkx as nx
        >>> g = nx.DiGraph([("Z", "X"), ("Z", "Y"), ("X", "Y")])  # Z confounds X -> Y
        >>> causal.backdoor_set(g, "X", "Y")
        ('Z',)
    """
    return _backdoor(_problem(graph, treatment, outcome, latent, bidirected))


def frontdoor_set(
    graph: nx.DiGraph | CausalModel,
    treatment: str | Sequence[str],
    outcome: str | Sequence[str],
    *,
    latent: Sequence[str] = (),
    bidirected: Sequence[tuple[str, str]] = (),
) -> tuple[str, ...] | None:
    """An observed mediator set satisfying Pearl's front-door criterion, or None.

    Candidates are the treatment's observed children on causal paths to the outcome, then all
    observed nodes on those paths.

    Examples:
        >>> import networkx as nx
        >>> g = nx.DiGraph([("H", "S"), ("H", "C"), ("S", "T"), ("T", "C")])
        >>> causal.frontdoor_set(g, "S", "C", latent=["H"])
        ('T',)
    """
    return _frontdoor(_problem(graph, treatment, outcome, latent, bidirected))
