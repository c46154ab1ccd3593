"""Conversions between `CausalModel` and string diagrams, plain dicts or pgmpy networks.

Each `from_*` takes the model class first (`CausalModel.from_dict(spec)` calls
`from_dict(CausalModel, spec)`), so this module needs no import of `probkit.causal.model`; the
`to_*` functions read a model through its public accessors only.
"""

import warnings
from collections.abc import Mapping, Sequence

import jax.numpy as jnp
import networkx as nx
import numpy as np

from probkit.causal.channel import as_table, check_names
from probkit.causal.diagram import Box, Copy, Diagram, Discard, Permute, Wire
from probkit.core import validate
from probkit.core.types import Array

__all__ = ["from_diagram", "from_dict", "from_pgmpy", "to_diagram", "to_dict", "to_pgmpy"]

# Row-sum tolerance for CPTs read from pgmpy (its example files keep about 7 significant digits).
_PGMPY_SUM_TOL = 1e-5


def to_diagram(model) -> Diagram:
    """The string diagram: one box per variable (its CPT), copies feeding children.

    Latent variables' wires are discarded (or consumed); the codomain is the observed
    variables in topological order, so `interpret(m.diagram())` equals `m.joint()`.
    """
    order = model.variables
    parents = {v: model.parents(v) for v in order}
    card, cpts, latent = model.cardinality, model.cpts, set(model.latent)
    last_use = {}
    for v in order:
        for p in parents[v]:
            last_use[p] = v
    lanes: list[Wire] = []
    d = Diagram.id(())
    wire = {v: Wire(v, card[v]) for v in order}
    for v in order:
        take = []  # indices of the lanes the box will consume, in parent order
        for p in parents[v]:
            i = next(j for j, w in enumerate(lanes) if w.name == p and j not in take)
            keep = p not in latent or last_use[p] != v
            if keep:
                d = d >> (Diagram.id(lanes[:i]) @ Copy(lanes[i]) @ Diagram.id(lanes[i + 1 :]))
                lanes.insert(i, lanes[i])
                take = [t + 1 if t > i else t for t in take]
                i += 1
            take.append(i)
        rest = [j for j in range(len(lanes)) if j not in take]
        perm = rest + take
        if perm != list(range(len(lanes))):
            d = d >> Permute(lanes, perm)
            lanes = [lanes[j] for j in perm]
        kept = lanes[: len(rest)]
        if not validate.is_concrete(cpts[v]):
            raise ValueError("diagram() needs concrete CPTs (call it outside jit/vmap)")
        box = Box(v, tuple(wire[p] for p in parents[v]), (wire[v],), data=cpts[v])
        d = d >> (Diagram.id(kept) @ box)
        lanes = [*kept, wire[v]]
        if v in latent and v not in last_use:
            d = d >> (Diagram.id(lanes[:-1]) @ Discard(wire[v]))
            lanes = lanes[:-1]
    target = [wire[v] for v in model.observed]
    perm = [lanes.index(w) for w in target]
    if perm != list(range(len(lanes))):
        d = d >> Permute(lanes, perm)
    return d


def from_diagram(cls, diagram: Diagram):
    """Read a causal model off a diagram with no inputs.

    Each box must emit exactly one wire, named after the variable it defines; its inputs,
    traced back through copies and permutations, are the variable's parents and its data is
    the CPT. A `Uniform` generator on a wire defines that variable with a uniform CPT (as
    left by `cut`). Variables whose wire reaches the codomain are observed, the others
    latent.
    """
    if not isinstance(diagram, Diagram):
        raise TypeError(f"diagram must be a Diagram, got {type(diagram).__name__}")
    if diagram.dom:
        raise ValueError("from_diagram needs a diagram with no input wires (a state)")
    lanes: list[str] = []
    parents: dict[str, tuple] = {}
    cpts: dict[str, Array] = {}
    card: dict[str, int] = {}
    for layer in diagram.layers:
        b, lo = layer.box, len(layer.left)
        ins = lanes[lo : lo + len(b.dom)]
        if b.kind in ("box", "uniform"):
            if len(b.cod) != 1:
                raise ValueError(
                    f"box {b.name!r} emits {len(b.cod)} wires; a causal "
                    "model's boxes emit exactly one (its variable)"
                )
            v = b.cod[0].name
            if v in parents:
                raise ValueError(f"two boxes emit the variable {v!r}")
            if len(set(ins)) != len(ins):
                raise ValueError(
                    f"box {b.name!r} reads the variable(s) "
                    f"{sorted({p for p in ins if ins.count(p) > 1})} twice"
                )
            card[v] = b.cod[0].size
            if b.kind == "uniform":
                table = jnp.full((card[v],), 1.0 / card[v], dtype=jnp.result_type(float))
            elif b.data is None:
                raise ValueError(f"box {b.name!r} has no data (CPT)")
            else:
                order = sorted(range(len(ins)), key=lambda i: ins[i])
                table = jnp.transpose(b.data, [*order, len(ins)])
            parents[v] = tuple(sorted(ins))
            cpts[v] = table
            outs = [v]
        elif b.kind == "copy":
            outs = ins * len(b.cod)
        elif b.kind == "discard":
            outs = []
        elif b.kind == "permute":
            outs = [ins[p] for p in b.params]
        else:
            raise ValueError(f"from_diagram cannot read a {b.kind!r} generator ({b.name})")
        lanes[lo : lo + len(b.dom)] = outs
    if len(set(lanes)) != len(lanes):
        raise ValueError(f"the diagram outputs some variable twice: {lanes}")
    graph = nx.DiGraph()
    graph.add_nodes_from(parents)
    graph.add_edges_from((p, v) for v, ps in parents.items() for p in ps)
    latent = [v for v in parents if v not in lanes]
    return cls(graph, cpts, card, latent=latent)


def from_dict(cls, spec: Mapping[str, Mapping], latent: Sequence[str] = ()):
    """Build a `cls` (a `CausalModel`) from plain dicts: `{var: {"parents": [...], "cpt": table}}`.

    Here the CPT's leading axes follow the `parents` list as written (any order); the
    number of states is read from the CPT's last axis.
    """
    if not isinstance(spec, Mapping):
        raise TypeError(f"spec must be a dict, got {type(spec).__name__}")
    graph, cpts = nx.DiGraph(), {}
    for v, entry in spec.items():
        if not isinstance(entry, Mapping) or "cpt" not in entry:
            raise ValueError(f"spec[{v!r}] must be a dict with keys 'parents' and 'cpt'")
        ps = check_names(f"spec[{v!r}]['parents']", entry.get("parents", ()))
        table = as_table(f"spec[{v!r}]['cpt']", entry["cpt"])
        if table.ndim != len(ps) + 1:
            raise ValueError(
                f"spec[{v!r}]['cpt'] must have {len(ps) + 1} axes (parents "
                f"{list(ps)}, then {v!r}), got shape {table.shape}"
            )
        order = sorted(range(len(ps)), key=lambda i: ps[i])
        cpts[v] = jnp.transpose(table, [*order, len(ps)])
        graph.add_node(v)
        graph.add_edges_from((p, v) for p in ps)
    unknown = [n for n in graph if n not in spec]
    if unknown:
        raise ValueError(f"parents {unknown} have no entry in spec")
    return cls(graph, cpts, None, latent=latent)


def to_dict(model) -> dict[str, dict]:
    """`{var: {"parents": sorted parents, "cpt": nested lists}}` (inverse of `from_dict`)."""
    cpts = model.cpts
    return {
        v: {"parents": list(model.parents(v)), "cpt": np.asarray(cpts[v]).tolist()}
        for v in model.variables
    }


def from_pgmpy(cls, model, latent: Sequence[str] | None = None):
    """Build a `cls` (a `CausalModel`) from a pgmpy `DiscreteBayesianNetwork` (needs pgmpy).

    States are indexed 0..k-1 in the order of each CPD's `state_names`. `latent` defaults to
    the pgmpy model's `latents`. CPT rows must sum to 1 within 1e-5 (pgmpy's shipped networks
    keep about 7 digits) and are renormalised.
    """
    DiscreteBayesianNetwork, _ = _pgmpy()
    if not isinstance(model, DiscreteBayesianNetwork):
        raise TypeError(
            f"model must be a pgmpy DiscreteBayesianNetwork, got {type(model).__name__}"
        )
    graph = nx.DiGraph()
    graph.add_nodes_from(model.nodes)
    graph.add_edges_from(model.edges)
    cpts = {}
    for cpd in model.get_cpds():
        evidence = list(cpd.variables[1:])
        table = np.moveaxis(np.asarray(cpd.values, dtype=float), 0, -1)
        # pgmpy's shipped networks store probabilities to about 7 digits, so rows sum to 1
        # within ~1e-7 whatever the dtype: accept float32-level rounding, then renormalise.
        validate.stochastic(f"CPD of {cpd.variable!r}", table, 1, atol=_PGMPY_SUM_TOL)
        table = table / table.sum(axis=-1, keepdims=True)
        order = sorted(range(len(evidence)), key=lambda i: evidence[i])
        cpts[cpd.variable] = np.transpose(table, [*order, len(evidence)])
    if latent is None:
        latent = sorted(getattr(model, "latents", ()) or ())
    return cls(graph, {v: jnp.asarray(t) for v, t in cpts.items()}, None, latent=latent)


def to_pgmpy(model):
    """A pgmpy `DiscreteBayesianNetwork` with the model's graph, CPTs and latents."""
    DiscreteBayesianNetwork, TabularCPD = _pgmpy()
    order, card, cpts = model.variables, model.cardinality, model.cpts
    bn = DiscreteBayesianNetwork(
        [(p, v) for v in order for p in model.parents(v)], latents=set(model.latent)
    )
    bn.add_nodes_from(order)
    for v in order:
        ps = list(model.parents(v))
        values = np.moveaxis(np.asarray(cpts[v], dtype=float), -1, 0)
        bn.add_cpds(
            TabularCPD(
                v,
                card[v],
                values.reshape(card[v], -1),
                evidence=ps or None,
                evidence_card=[card[p] for p in ps] or None,
            )
        )
    return bn


def _pgmpy():
    """pgmpy's network and CPD classes (pgmpy is optional; its import-time deprecation
    warnings are about its own internals, not actionable here, so they are silenced)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            from pgmpy.factors.discrete import TabularCPD
            from pgmpy.models import DiscreteBayesianNetwork
    except ImportError as exc:  # pragma: no cover - pgmpy is in the test extra
        raise ImportError("pgmpy interop needs pgmpy: pip install pgmpy") from exc
    return DiscreteBayesianNetwork, TabularCPD
