"""Causal Bayesian networks on finite variables, interventions by surgery, interop.

A `CausalModel` is a networkx DAG, one conditional probability table (CPT) per node and a set of
latent (unobserved) nodes. The CPT of node v has shape
`(*[cardinality[p] for p in sorted(graph.predecessors(v))], cardinality[v])`: parents in sorted
order first, the node's own states last, each row summing to 1.

- `m.joint()` is the distribution of the observed variables (latents summed out);
- `m.do({"S": 1})` is graph surgery: S's incoming edges are cut and its CPT replaced by the point
  mass at 1 (or by a given distribution: a soft intervention);
- `m.query(["C"], do={"S": 1}, evidence={"H": 0})` is P(C | do(S=1), H=0), surgery first, then
  conditioning: evidence may be any variable, ancestors of the intervened one included;
- `m.effects()` computes every single-variable interventional marginal P(Y | do(X=x)), one
  einsum of the truncated factorisation per (X, Y);
- `m.diagram()` / `CausalModel.from_diagram(d)` convert to and from the string diagram with one
  box per variable (see `probkit.causal.diagram`);
- `CausalModel.from_pgmpy`, `.to_pgmpy`, `.from_dict`, `.to_dict` for interop (implemented in
  `probkit.causal.interop`).

Queries are einsums over the CPTs of the relevant ancestors only (descendants of the query sum to
one), ordered by opt_einsum, so models with dozens of variables answer without forming the joint.
"""

from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np

from probkit.causal import interop
from probkit.causal.channel import (
    Channel,
    Distribution,
    as_table,
    check_assignment,
    check_names,
    check_stochastic,
    safe_divide,
    value_index,
)
from probkit.causal.contraction import contract, take
from probkit.causal.diagram import Diagram
from probkit.core import validate
from probkit.core.types import Array, ArrayLike, PRNGKey

__all__ = ["CausalModel", "empirical", "random_cpts", "random_model"]


def check_dag(graph) -> nx.DiGraph:
    """A networkx DiGraph with string node names and no directed cycle."""
    if not isinstance(graph, nx.DiGraph):
        raise TypeError(f"graph must be a networkx DiGraph, got {type(graph).__name__}")
    if graph.is_multigraph():
        graph = nx.DiGraph(graph)
    bad = [n for n in graph.nodes if not isinstance(n, str) or not n]
    if bad:
        raise TypeError(f"graph nodes must be non-empty strings (variable names), got {bad[:3]}")
    if not nx.is_directed_acyclic_graph(graph):
        cycle = [u for u, _ in nx.find_cycle(graph)]
        path = " -> ".join([*cycle, cycle[0]])
        raise ValueError(f"graph must be acyclic; it has the cycle {path}")
    return graph


def _ancestors(parents: Mapping[str, tuple], nodes) -> set[str]:
    """The nodes and all their ancestors."""
    out, stack = set(), list(nodes)
    while stack:
        v = stack.pop()
        if v not in out:
            out.add(v)
            stack.extend(parents[v])
    return out


@jax.tree_util.register_pytree_node_class
class CausalModel:
    """A causal Bayesian network: DAG + CPTs + latent set.

    Args:
        graph: networkx DiGraph over variable names (strings), acyclic.
        cpts: `{node: table}`; `cpts[v]` has shape
            `(*[cardinality[p] for p in sorted(graph.predecessors(v))], cardinality[v])`.
        cardinality: `{node: number of states}`, an int for all nodes, or None to read it from
            the last axis of each CPT.
        latent: nodes that are not observed (summed out of `joint()`).

    Raises:
        ValueError / TypeError: cyclic graph, missing or unknown CPTs, wrong shapes, negative
            entries, rows not summing to 1, unknown latent nodes.
    """

    __slots__ = ("_card", "_cpts", "_latent", "_order", "_parents")

    def __init__(
        self,
        graph: nx.DiGraph,
        cpts: Mapping[str, ArrayLike],
        cardinality: Mapping[str, int] | int | None = None,
        latent: Sequence[str] = (),
    ):
        graph = check_dag(graph)
        nodes = list(graph.nodes)
        if not isinstance(cpts, Mapping):
            raise TypeError(f"cpts must be a dict {{node: table}}, got {type(cpts).__name__}")
        missing = [v for v in nodes if v not in cpts]
        unknown = [v for v in cpts if v not in graph]
        if missing:
            raise ValueError(f"cpts is missing the node(s) {missing}")
        if unknown:
            raise ValueError(f"cpts names node(s) {unknown} that are not in the graph")
        tables = {v: as_table(f"cpts[{v!r}]", cpts[v]) for v in nodes}
        card = _check_cardinality(cardinality, nodes, tables)
        latent = check_names("latent", latent)
        bad = [v for v in latent if v not in graph]
        if bad:
            raise ValueError(f"latent names node(s) {bad} that are not in the graph")
        order = tuple(nx.lexicographical_topological_sort(graph))
        parents = {v: tuple(sorted(graph.predecessors(v))) for v in order}
        for v in order:
            want = (*(card[p] for p in parents[v]), card[v])
            if tables[v].shape != want:
                layout = ", ".join(f"{p}:{card[p]}" for p in parents[v])
                raise ValueError(
                    f"cpts[{v!r}] must have shape {want} (parents ({layout}) in "
                    f"sorted order, then {v!r} itself), got {tables[v].shape}"
                )
            check_stochastic(f"cpts[{v!r}]", tables[v], 1)
        self._set(order, parents, card, tables, frozenset(latent))

    def _set(self, order, parents, card, cpts, latent):
        self._order, self._parents, self._card = tuple(order), dict(parents), dict(card)
        self._cpts, self._latent = dict(cpts), frozenset(latent)

    @classmethod
    def _make(cls, order, parents, card, cpts, latent) -> "CausalModel":
        obj = object.__new__(cls)
        obj._set(order, parents, card, cpts, latent)
        return obj

    def tree_flatten(self):
        structure = (
            self._order,
            tuple(self._parents[v] for v in self._order),
            tuple(self._card[v] for v in self._order),
            self._latent,
        )
        return tuple(self._cpts[v] for v in self._order), structure

    @classmethod
    def tree_unflatten(cls, aux, children):
        order, parents, card, latent = aux
        return cls._make(
            order,
            dict(zip(order, parents)),
            dict(zip(order, card)),
            dict(zip(order, children)),
            latent,
        )

    # ------------------------------------------------------------------ description
    @property
    def variables(self) -> tuple[str, ...]:
        """All nodes, in a topological order."""
        return self._order

    @property
    def observed(self) -> tuple[str, ...]:
        """The observed nodes, in topological order (the axes of `joint()`)."""
        return tuple(v for v in self._order if v not in self._latent)

    @property
    def latent(self) -> tuple[str, ...]:
        return tuple(v for v in self._order if v in self._latent)

    @property
    def cardinality(self) -> dict[str, int]:
        return dict(self._card)

    @property
    def cpts(self) -> dict[str, Array]:
        return dict(self._cpts)

    @property
    def graph(self) -> nx.DiGraph:
        """The DAG as a new networkx DiGraph (nodes carry `latent` and `cardinality` attributes)."""
        g = nx.DiGraph()
        for v in self._order:
            g.add_node(v, latent=v in self._latent, cardinality=self._card[v])
        g.add_edges_from((p, v) for v in self._order for p in self._parents[v])
        return g

    def parents(self, var: str) -> tuple[str, ...]:
        """The parents of `var`, sorted (the CPT's leading axes)."""
        self._check_known("var", [var])
        return self._parents[var]

    def __repr__(self) -> str:
        lat = f", latent={list(self.latent)}" if self._latent else ""
        edges = sum(len(p) for p in self._parents.values())
        return f"CausalModel({len(self._order)} variables, {edges} edges{lat})"

    def _check_known(self, arg: str, names) -> None:
        unknown = [n for n in names if n not in self._card]
        if unknown:
            raise ValueError(
                f"{arg} names unknown variable(s) {unknown}; the model has {list(self._order)}"
            )

    def _factor(self, v: str, evidence: Mapping[str, int] | None = None):
        evidence = evidence or {}
        table, names = self._cpts[v], self._parents[v] + (v,)
        for var in sorted((n for n in names if n in evidence), key=names.index, reverse=True):
            table = take(table, evidence[var], names.index(var))
        return table, tuple(n for n in names if n not in evidence)

    # ------------------------------------------------------------------ semantics
    def joint(self, *, include_latent: bool = False) -> Distribution:
        """The joint distribution of the observed variables (all variables with include_latent).

        Its size is the product of the cardinalities: use `query` for marginals of big models.
        """
        names = self._order if include_latent else self.observed
        table = contract([self._factor(v) for v in self._order], names)
        return Distribution.unchecked(table, (), names)

    def do(self, interventions: Mapping[str, ArrayLike]) -> "CausalModel":
        """Surgery: the model in which each intervened variable is set from outside.

        Args:
            interventions: `{variable: state}` for a hard intervention do(X = x), or
                `{variable: probabilities}` (shape `(cardinality,)`) for a soft one.

        Returns:
            A new `CausalModel`: incoming edges of the intervened variables are removed and
            their CPTs replaced by the point mass (or the given distribution).
        """
        if not isinstance(interventions, Mapping):
            raise TypeError(
                f"interventions must be a dict {{variable: state}}, got "
                f"{type(interventions).__name__}"
            )
        self._check_known("interventions", interventions)
        parents, cpts = dict(self._parents), dict(self._cpts)
        for v, value in interventions.items():
            parents[v] = ()
            cpts[v] = _intervention_table(v, value, self._card[v], self._cpts[v].dtype)
        return CausalModel._make(self._order, parents, self._card, cpts, self._latent)

    def query(
        self,
        variables: Sequence[str],
        *,
        do: Mapping | None = None,
        evidence: Mapping[str, int] | None = None,
    ) -> Distribution:
        """P(variables | do(...), evidence): surgery first, then conditioning.

        Args:
            variables: the query variables (observed or latent).
            do: interventions, as for `do`.
            evidence: `{variable: state}` observed in the intervened model; any variable but the
                query ones, including ancestors of intervened variables.

        Returns:
            A `Distribution` over `variables`, in that order.

        Raises:
            ValueError: unknown variables, overlap between query and evidence, or evidence of
                probability 0 in the intervened model.
        """
        variables = check_names("variables", variables)
        self._check_known("variables", variables)
        m = self.do(do) if do else self
        evidence = check_assignment("evidence", evidence or {}, self._card)
        both = [v for v in variables if v in evidence]
        if both:
            raise ValueError(f"{both} are both queried and observed as evidence")
        relevant = _ancestors(m._parents, list(variables) + list(evidence))
        factors = [m._factor(v, evidence) for v in m._order if v in relevant]
        table = contract(factors, variables)
        mass = jnp.sum(table)
        if validate.is_concrete(mass) and not float(mass) > 0:
            what = f" under do({dict(do)})" if do else ""
            raise ValueError(
                f"the evidence {evidence} has probability 0{what}; the conditional is undefined"
            )
        size = int(np.prod(table.shape))
        return Distribution.unchecked(safe_divide(table, mass, 1.0 / size), (), variables)

    def effects(
        self, treatments: Sequence[str] | None = None, outcomes: Sequence[str] | None = None
    ) -> dict[tuple[str, str], Channel]:
        """Every single-variable interventional marginal P(Y | do(X)).

        Args:
            treatments: variables X to intervene on (default: all observed).
            outcomes: variables Y whose marginal is wanted (default: all observed).

        Returns:
            `{(X, Y): channel}` for X != Y, where `channel.at({X: x})` is P(Y | do(X = x)) and
            `channel.table[x, y]` its probabilities. Each entry is one einsum of the truncated
            factorisation over Y's ancestors, with X's CPT left out and X kept as a free index,
            so all values x come out of the same contraction; when X is not an ancestor of Y the
            entry is P(Y), computed once per Y.
        """
        treatments = check_names("treatments", self.observed if treatments is None else treatments)
        outcomes = check_names("outcomes", self.observed if outcomes is None else outcomes)
        self._check_known("treatments", treatments)
        self._check_known("outcomes", outcomes)
        ancestors = {y: _ancestors(self._parents, [y]) for y in outcomes}
        marginal: dict[str, Array] = {}
        out = {}
        for x in treatments:
            for y in outcomes:
                if y == x:
                    continue
                if x in ancestors[y]:
                    factors = [self._factor(v) for v in self._order if v in ancestors[y] and v != x]
                    table = contract(factors, (x, y))
                else:
                    if y not in marginal:
                        marginal[y] = contract(
                            [self._factor(v) for v in self._order if v in ancestors[y]], (y,)
                        )
                    ones = jnp.ones((self._card[x],), dtype=marginal[y].dtype)
                    table = contract([(ones, (x,)), (marginal[y], (y,))], (x, y))
                out[(x, y)] = Channel.unchecked(table, (x,), (y,))
        return out

    def sample(
        self, key: PRNGKey, num_samples: int, *, include_latent: bool = False
    ) -> dict[str, Array]:
        """Ancestral sampling: `{variable: int32 array (num_samples,)}` of observed variables."""
        validate.key("key", key)
        num_samples = validate.positive_int("num_samples", num_samples)
        keys = jax.random.split(key, len(self._order))
        out: dict[str, Array] = {}
        for k, v in zip(keys, self._order):
            probs = self._cpts[v][tuple(out[p] for p in self._parents[v])]
            probs = jnp.broadcast_to(probs, (num_samples, self._card[v]))
            out[v] = jax.random.categorical(k, jnp.log(probs), axis=-1).astype(jnp.int32)
        keep = self._order if include_latent else self.observed
        return {v: out[v] for v in keep}

    # ------------------------------------------------------------------ diagrams
    def diagram(self) -> Diagram:
        """`causal.interop.to_diagram`: one box per variable (its CPT), copies feeding children;
        `interpret(m.diagram())` equals `m.joint()`."""
        return interop.to_diagram(self)

    @classmethod
    def from_diagram(cls, diagram: Diagram) -> "CausalModel":
        """`causal.interop.from_diagram`: read a causal model off a diagram with no inputs."""
        return interop.from_diagram(cls, diagram)

    # ------------------------------------------------------------------ interop
    # The conversions live in `probkit.causal.interop`; these are their classmethod spellings.
    @classmethod
    def from_dict(cls, spec: Mapping[str, Mapping], latent: Sequence[str] = ()) -> "CausalModel":
        """`causal.interop.from_dict`: `{var: {"parents": [...], "cpt": table}}` -> model."""
        return interop.from_dict(cls, spec, latent)

    def to_dict(self) -> dict[str, dict]:
        """`causal.interop.to_dict`: `{var: {"parents": sorted parents, "cpt": lists}}`."""
        return interop.to_dict(self)

    @classmethod
    def from_pgmpy(cls, model, latent: Sequence[str] | None = None) -> "CausalModel":
        """`causal.interop.from_pgmpy`: from a pgmpy `DiscreteBayesianNetwork`."""
        return interop.from_pgmpy(cls, model, latent)

    def to_pgmpy(self):
        """`causal.interop.to_pgmpy`: a pgmpy `DiscreteBayesianNetwork`."""
        return interop.to_pgmpy(self)


def _check_cardinality(cardinality, nodes, tables) -> dict[str, int]:
    if cardinality is None:
        scalar = [v for v in nodes if tables[v].ndim == 0]
        if scalar:
            raise ValueError(f"cpts {scalar} are scalars; a CPT has at least the node's own axis")
        return {v: int(tables[v].shape[-1]) for v in nodes}
    if isinstance(cardinality, int) and not isinstance(cardinality, bool):
        cardinality = dict.fromkeys(nodes, cardinality)
    if not isinstance(cardinality, Mapping):
        raise TypeError("cardinality must be a dict {node: states}, an int, or None")
    missing = [v for v in nodes if v not in cardinality]
    unknown = [v for v in cardinality if v not in nodes]
    if missing or unknown:
        raise ValueError(
            f"cardinality must give every node exactly; missing {missing}, unknown {unknown}"
        )
    return {v: validate.positive_int(f"cardinality[{v!r}]", cardinality[v]) for v in nodes}


def _intervention_table(v: str, value, size: int, dtype) -> Array:
    arr = np.asarray(value) if not isinstance(value, jax.core.Tracer) else value
    if getattr(arr, "ndim", 0) == 0:
        return jax.nn.one_hot(value_index("interventions", v, value, size), size, dtype=dtype)
    table = as_table(f"interventions[{v!r}]", value)
    if table.shape != (size,):
        raise ValueError(
            f"interventions[{v!r}] must be a state index or a distribution of "
            f"shape ({size},), got shape {table.shape}"
        )
    check_stochastic(f"interventions[{v!r}]", table, 1, what="probabilities")
    return table


def random_cpts(
    key: PRNGKey,
    graph: nx.DiGraph,
    cardinality: Mapping[str, int] | int,
    *,
    concentration: float = 1.0,
    batch_shape: tuple[int, ...] = (),
) -> dict[str, Array]:
    """Random CPTs for a graph, each row Dirichlet(`concentration`), in the `CausalModel` layout.

    Args:
        key: PRNG key.
        graph: networkx DiGraph.
        cardinality: `{node: states}` or one int for every node.
        concentration: Dirichlet concentration of every row (1 = uniform on the simplex).
        batch_shape: leading axes for a batch of independent draws (e.g. to `vmap` over).

    Returns:
        `{node: array of shape (*batch_shape, *parent sizes, size)}`. Call it outside `jit`
        (the graph's structure is host data); use `batch_shape` to draw many models at once.

    Examples:
        >>> import networkx as nx
        >>> g = nx.DiGraph([("A", "B")])
        >>> cpts = causal.random_cpts(jax.random.key(0), g, {"A": 2, "B": 3}, batch_shape=(5,))
        >>> cpts["A"].shape, cpts["B"].shape  # (*batch_shape, *parent sizes, size)
        ((5, 2), (5, 2, 3))
    """
    validate.key("key", key)
    validate.positive_float("concentration", concentration)
    nodes = sorted(graph.nodes)
    card = dict.fromkeys(nodes, cardinality) if isinstance(cardinality, int) else cardinality
    shapes = {
        v: (*batch_shape, *(card[p] for p in sorted(graph.predecessors(v))), card[v]) for v in nodes
    }
    sizes = [int(np.prod(shapes[v])) for v in nodes]
    total = max(sum(sizes), 1)
    padded = 1 << (total - 1).bit_length()  # few distinct shapes: few compilations
    if concentration == 1.0:
        draws = jax.random.exponential(key, (padded,))
    else:
        draws = jax.random.gamma(key, concentration, (padded,))
    draws = np.maximum(np.asarray(draws), np.finfo(np.asarray(draws).dtype).tiny)
    out, offset = {}, 0
    for v, size in zip(nodes, sizes):
        block = draws[offset : offset + size].reshape(shapes[v])
        out[v] = jnp.asarray(block / block.sum(axis=-1, keepdims=True))
        offset += size
    return out


def random_model(
    key: PRNGKey,
    num_variables: int,
    *,
    cardinality: int = 2,
    max_parents: int = 3,
    edge_probability: float = 0.5,
    concentration: float = 1.0,
    prefix: str = "X",
) -> CausalModel:
    """A random causal Bayesian network (for tests and benchmarks).

    Nodes `X0..X{n-1}` are in topological order; each node draws its parents among the earlier
    nodes, each kept with `edge_probability`, at most `max_parents` of them (chosen at random).
    CPT rows are Dirichlet(`concentration`).

    Examples:
        >>> m = causal.random_model(jax.random.key(0), 4, cardinality=2)
        >>> sorted(m.graph.nodes), m.joint().array().shape
        (['X0', 'X1', 'X2', 'X3'], (2, 2, 2, 2))
    """
    validate.key("key", key)
    n = validate.positive_int("num_variables", num_variables)
    k = validate.positive_int("cardinality", cardinality)
    validate.positive_int("max_parents", max_parents, minimum=0)
    validate.probability("edge_probability", edge_probability)
    k_edges, k_order, k_cpt = jax.random.split(key, 3)
    names = [f"{prefix}{i}" for i in range(n)]
    coin = np.asarray(jax.random.bernoulli(k_edges, edge_probability, (n, n)))
    rank = np.asarray(jax.random.uniform(k_order, (n, n)))
    graph = nx.DiGraph()
    graph.add_nodes_from(names)
    for j in range(n):
        cand = [i for i in range(j) if coin[i, j]]
        cand = sorted(cand, key=lambda i: rank[i, j])[:max_parents]
        graph.add_edges_from((names[i], names[j]) for i in cand)
    cpts = random_cpts(k_cpt, graph, k, concentration=concentration)
    return CausalModel(graph, cpts, k)


def empirical(samples: Mapping[str, ArrayLike], cardinality: Mapping[str, int]) -> Distribution:
    """The empirical joint distribution of integer samples `{variable: (n,) states}`.

    Examples:
        >>> samples = {"A": np.array([0, 1, 1, 1]), "B": np.array([0, 0, 1, 1])}  # (n,) each
        >>> p = causal.empirical(samples, {"A": 2, "B": 2})
        >>> p.names, p.array().tolist()
        (('A', 'B'), [[0.25, 0.0], [0.25, 0.5]])
    """
    if not isinstance(samples, Mapping) or not samples:
        raise TypeError("samples must be a non-empty dict {variable: integer array}")
    names = check_names("samples", list(samples))
    missing = [v for v in names if v not in cardinality]
    if missing:
        raise ValueError(f"cardinality is missing {missing}")
    sizes = [validate.positive_int(f"cardinality[{v!r}]", cardinality[v]) for v in names]
    cols = [validate.array(f"samples[{v!r}]", samples[v], ndim=1, dtype_kind="iu") for v in names]
    if len({c.shape[0] for c in cols}) != 1:
        raise ValueError("every variable in samples must have the same number of draws")
    for v, c, s in zip(names, cols, sizes):
        if validate.is_concrete(c) and (bool(jnp.any(c < 0)) or bool(jnp.any(c >= s))):
            raise ValueError(f"samples[{v!r}] has states outside 0..{s - 1}")
    flat = jnp.ravel_multi_index(tuple(cols), tuple(sizes), mode="clip")
    counts = jnp.bincount(flat, length=int(np.prod(sizes))).reshape(sizes)
    return Distribution(counts.astype(jnp.result_type(float)), names, normalize=True)
