"""The synthetic testbed's accuracy-vs-budget harness: the paper's picture without weights.

`benchmark` runs the whole table — several methods (best-of-N, weighted best-of-N, beam search,
DVTS, particle filtering and Gibbs, or your own function), budgets 1..128, hundreds of problems
with common random problems for every method — vectorised in JAX, in seconds on a CPU, and
returns a `BenchmarkTable` with standard errors, a markdown rendering and a plot. The models
(`Config`, `problems`, `SyntheticLM`, `SyntheticPRM`, `TextSyntheticLM`, `text_prm`) live in
`probkit.llm.synthetic` and are re-exported here.
"""

import dataclasses
import functools
import time
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from probkit.core import validate
from probkit.core.types import PRNGKey
from probkit.llm import filtering as pf
from probkit.llm import gibbs as pg
from probkit.llm import search
from probkit.llm.synthetic import (
    Config,
    Problems,
    SyntheticLM,
    SyntheticPRM,
    TextSyntheticLM,
    problems,
    text_prm,
)

__all__ = [
    "DEFAULT_BUDGETS",
    "DEFAULT_METHODS",
    "METHODS",
    "BenchmarkTable",
    "Config",
    "Problems",
    "SyntheticLM",
    "SyntheticPRM",
    "TextSyntheticLM",
    "benchmark",
    "problems",
    "text_prm",
]

DEFAULT_BUDGETS = (1, 2, 4, 8, 16, 32, 64, 128)
"""Particle / sample budgets of the default accuracy-vs-budget sweep."""
DEFAULT_METHODS = ("bon", "wbon", "beam", "dvts", "pf", "pf_vote")
"""Methods of the default sweep (keys of `METHODS`)."""


def _select_all(res, backend_weights=None):
    """Answers chosen by argmax and by weighted vote from one result (common random numbers)."""
    from probkit.llm.selection import select

    lw = res.log_weights
    pick = lambda how: res.answers[select(None, how, res.answers, res.rewards, lw)]  # noqa: E731
    return {"argmax": pick("argmax"), "vote": pick("vote")}


class Family(NamedTuple):
    """How the benchmark runs a family of methods.

    `run(key, lm, prm, problem, capacity, num_live, max_steps, group) -> {rule: answer id}`
    (or None to skip) runs one problem with `capacity` particle slots of which `num_live` (a
    traced int, or None for an unpadded run) are used; `group(budget)` names the compiled
    function a budget shares (budgets in one group are padded to the group's largest).
    """

    run: Callable
    group: Callable


def _pf_family(**kw):
    cfg0 = pf.filter_config(**kw)
    padded = cfg0.resampling.name == "multinomial"  # padding is exact only for multinomial

    def run(key, lm, prm, prompt, capacity, num_live, max_steps, group):
        cfg = pf.filter_config(max_steps=max_steps, **kw)
        res = pf.run_backend(key, pf.engine.JaxBackend(lm, prm), prompt, capacity, cfg, num_live)
        return _select_all(res)

    return Family(run, (lambda b: "all") if padded else (lambda b: b))


def _search_family(fn, beam_width=4):
    def run(key, lm, prm, prompt, capacity, num_live, max_steps, width):
        backend = pf.engine.JaxBackend(lm, prm)
        res = fn(key, backend, prompt, capacity, width, max_steps, "argmax", num_live)
        return {"argmax": res.answer}

    return Family(run, lambda b: min(beam_width, b))


def _pg_family(iterations=4, **kw):
    def run(key, lm, prm, prompt, capacity, num_live, max_steps, group):
        n = capacity // iterations
        if n < 2:
            return None
        cfg = pf.filter_config(max_steps=max_steps, **kw)
        return _select_all(
            pg.run_backend(key, pf.engine.JaxBackend(lm, prm), prompt, n, iterations, cfg)
        )

    return Family(run, lambda b: b)


# Method families: one run per (family, budget) serves every selection rule of the family.
FAMILIES: dict[str, Family | None] = {
    "bon": None,  # one shared pool of max(budgets) independent solutions, nested prefixes
    "beam": _search_family(search.beam_search_backend),
    "dvts": _search_family(search.dvts_backend),
    "pf": _pf_family(),
    "pf_twisted": _pf_family(weighting="twisted"),
    "epf": _pf_family(entropic=True, resampling="systematic"),
    "pg": _pg_family(),
}

# name -> (label, family, selection rule)
METHODS: dict[str, tuple[str, str, str]] = {
    "bon": ("Best-of-N", "bon", "argmax"),
    "wbon": ("Weighted BoN", "bon", "vote"),
    "beam": ("Beam search (M=4)", "beam", "argmax"),
    "dvts": ("DVTS (M=4)", "dvts", "argmax"),
    "pf": ("PF (paper, argmax)", "pf", "argmax"),
    "pf_vote": ("PF (paper, vote)", "pf", "vote"),
    "pf_twisted": ("PF (twisted, argmax)", "pf_twisted", "argmax"),
    "pf_twisted_vote": ("PF (twisted, vote)", "pf_twisted", "vote"),
    "epf": ("Entropic PF (argmax)", "epf", "argmax"),
    "pg": ("Particle Gibbs (4 sweeps, argmax)", "pg", "argmax"),
}
"""The sweep's methods: name -> (label, method family, final-answer selection rule)."""


@dataclasses.dataclass
class BenchmarkTable:
    """Accuracy of each method at each budget, with standard errors.

    Attributes:
        methods: method names (keys of `METHODS` or of the custom dict passed).
        labels: display names.
        budgets: budgets (solutions in parallel).
        correct: (methods, budgets, problems) bool, NaN-free; `ran[m, b]` False where the
            method was not run at that budget (e.g. particle Gibbs with fewer than 2 particles
            per sweep).
        ran: (methods, budgets) bool.
        seconds: wall time of the whole table, compilation included.
        config: the testbed configuration.
    """

    methods: tuple
    labels: tuple
    budgets: tuple
    correct: np.ndarray
    ran: np.ndarray
    seconds: float
    config: Config

    @property
    def num_problems(self) -> int:
        return self.correct.shape[-1]

    @property
    def accuracy(self) -> np.ndarray:
        """(methods, budgets) fraction of problems solved; NaN where not run."""
        return np.where(self.ran, self.correct.mean(-1), np.nan)

    @property
    def se(self) -> np.ndarray:
        """(methods, budgets) standard error sqrt(p(1-p)/P) of each accuracy."""
        p = self.accuracy
        return np.sqrt(p * (1 - p) / self.num_problems)

    def difference(self, a: str, b: str, budget: int) -> tuple[float, float]:
        """Accuracy of `a` minus `b` at `budget` and its paired standard error."""
        i, j, k = self.methods.index(a), self.methods.index(b), self.budgets.index(budget)
        d = self.correct[i, k].astype(float) - self.correct[j, k].astype(float)
        return float(d.mean()), float(d.std(ddof=1) / np.sqrt(d.size))

    def to_markdown(self) -> str:
        head = "| method | " + " | ".join(f"N={b}" for b in self.budgets) + " |"
        rows = [head, "|---|" + "---|" * len(self.budgets)]
        acc, se = self.accuracy, self.se
        for m, label in enumerate(self.labels):
            cells = [
                "–" if not self.ran[m, k] else f"{acc[m, k]:.3f} ± {se[m, k]:.3f}"
                for k in range(len(self.budgets))
            ]
            rows.append(f"| {label} | " + " | ".join(cells) + " |")
        return "\n".join(rows)

    def plot(self, path=None, ax=None, title: str | None = None):
        """Accuracy vs budget (log2 axis) with ±1 SE bands; saves to `path` when given."""
        import matplotlib

        if ax is None:
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig = None
        if ax is None:
            fig, ax = plt.subplots(figsize=(6.5, 4.2))
        x = np.asarray(self.budgets)
        for m, label in enumerate(self.labels):
            ok = self.ran[m]
            acc, se = self.accuracy[m, ok], self.se[m, ok]
            style = "-o" if "PF" in label or "Gibbs" in label else "--s"
            ax.plot(x[ok], acc, style, ms=3.5, lw=1.4, label=label)
            ax.fill_between(x[ok], acc - se, acc + se, alpha=0.15)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("budget N (solutions generated in parallel)")
        ax.set_ylabel(f"accuracy ({self.num_problems} problems)")
        ax.set_title(title or "Synthetic testbed: accuracy vs budget")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        if fig is not None:
            fig.tight_layout()
            if path is not None:
                fig.savefig(path, dpi=120)
                plt.close(fig)
        return fig if fig is not None else ax.figure


@functools.lru_cache(maxsize=32)
def _bon_pool_fn(lm, prm, n, max_steps):
    def one(k, prompt):
        res = search.best_of_n_backend(
            k, pf.engine.JaxBackend(lm, prm), prompt, n, max_steps, "argmax"
        )
        return res.rewards, res.answers

    return jax.jit(jax.vmap(one))


def _bon_pool(key, lm, prm, probs, n, max_steps):
    """(P, n) rewards and answers of n independent solutions per problem."""
    keys = jax.random.split(key, probs.error_prob.shape[0])
    return _bon_pool_fn(lm, prm, n, max_steps)(keys, probs)


@functools.lru_cache(maxsize=128)
def _family_fn(runner: Family, capacity: int, padded: bool, lm, prm, max_steps: int, group):
    """One compiled, problem-vectorised run of a family (cached across benchmark calls)."""

    def one(k, prompt, num_live):
        return runner.run(
            k, lm, prm, prompt, capacity, num_live if padded else None, max_steps, group
        )

    return one, jax.jit(jax.vmap(one, in_axes=(0, 0, None)))


def _bon_tables(rewards, answers, budgets):
    """Best-of-n (argmax) and weighted best-of-n correctness for nested prefixes of the pool.

    NumPy on the host: the same rules as `probkit.llm.selection` (argmax of reward; the answer
    with the largest reward sum, ties to the highest reward), without compiling one function
    per budget.
    """
    rewards, answers = np.asarray(rewards, float), np.asarray(answers)
    rows = np.arange(rewards.shape[0])
    out = {"argmax": [], "vote": []}
    for b in budgets:
        r, a = rewards[:, :b], answers[:, :b]
        out["argmax"].append(a[rows, np.argmax(r, axis=1)] == 0)
        valid = a >= 0
        same = (a[:, :, None] == a[:, None, :]) & valid[:, None, :]
        totals = np.where(valid, np.einsum("pij,pj->pi", same, r), -np.inf)
        best = totals.max(axis=1, keepdims=True)
        win = np.argmax(np.where(totals >= best, r, -np.inf), axis=1)
        out["vote"].append(a[rows, win] == 0)
    return {k: np.stack(v) for k, v in out.items()}


def _custom_family(fn):
    def run(key, lm, prm, prompt, capacity, num_live, max_steps, group):
        out = fn(key, lm, prm, prompt, capacity, max_steps)
        return None if out is None else {"argmax": out}

    return Family(run, lambda b: b)


def benchmark(
    key: PRNGKey,
    methods: Sequence[str] | Mapping[str, Callable] = DEFAULT_METHODS,
    budgets: Sequence[int] = DEFAULT_BUDGETS,
    *,
    num_problems: int = 400,
    config: Config = Config(),  # noqa: B008 (a frozen dataclass: immutable)
    aggregation: str = "last",
    max_steps: int | None = None,
) -> BenchmarkTable:
    """Accuracy vs budget of several methods on common synthetic problems.

    Args:
        key: PRNG key (problems and every method's randomness derive from it; each method sees
            the same problems).
        methods: names from `METHODS` (``"bon"``, ``"wbon"``, ``"beam"``, ``"dvts"``, ``"pf"``,
            ``"pf_vote"``, ``"pf_twisted"``, ``"pf_twisted_vote"``, ``"epf"``, ``"pg"``), or a
            dict label -> `runner(key, lm, prm, problem, budget, max_steps) -> answer id`
            (traceable; return None to skip a budget). Rules of one family (e.g. ``"pf"`` and
            ``"pf_vote"``) are read off the same runs.
        budgets: budgets N to evaluate. Beam search and DVTS use beam width min(4, N).
        num_problems: problems per cell (standard error about 0.5 / sqrt(num_problems)).
        config: the testbed's `Config`.
        aggregation: the PRM's aggregation ("last", "min", "prod").
        max_steps: step cap (default: the testbed's T).

    Returns:
        `BenchmarkTable`: `.accuracy`, `.se`, `.difference(a, b, budget)`, `.to_markdown()`,
        `.plot(path)`.
    """
    validate.key("key", key)
    num_problems = validate.positive_int("num_problems", num_problems)
    budgets = tuple(validate.positive_int("budgets", int(b)) for b in budgets)
    if not budgets:
        raise ValueError("budgets must contain at least one budget")
    if isinstance(methods, Mapping):
        for name, fn in methods.items():
            validate.callable_(f"methods[{name!r}]", fn)
        names = tuple(methods)
        labels = names
        plan = {name: (name, "argmax") for name in names}
        families = {name: _custom_family(fn) for name, fn in methods.items()}
    else:
        unknown = [m for m in methods if m not in METHODS]
        if unknown:
            raise ValueError(f"unknown methods {unknown}; known: {sorted(METHODS)}")
        names = tuple(methods)
        labels = tuple(METHODS[m][0] for m in names)
        plan = {m: METHODS[m][1:] for m in names}
        families = {fam: FAMILIES[fam] for fam, _ in plan.values()}
    max_steps = (
        config.num_steps if max_steps is None else validate.positive_int("max_steps", max_steps)
    )
    start = time.perf_counter()
    lm, prm = SyntheticLM.from_config(config), SyntheticPRM(aggregation)
    k_prob, k_run = jax.random.split(key)
    probs = problems(k_prob, num_problems, config)
    prompt0 = jax.tree.map(lambda x: x[0], probs)
    correct = np.zeros((len(names), len(budgets), num_problems), bool)
    ran = np.zeros((len(names), len(budgets)), bool)
    results: dict[tuple[str, int], dict] = {}
    jobs = []
    for f, (family, runner) in enumerate(families.items()):
        k_fam = jax.random.fold_in(k_run, f)
        if runner is None:  # best-of-N: one pool of max(budgets) solutions, nested prefixes
            rewards, answers = _bon_pool(k_fam, lm, prm, probs, max(budgets), max_steps)
            for rule, table in _bon_tables(rewards, answers, budgets).items():
                for b, budget in enumerate(budgets):
                    results.setdefault((family, budget), {})[rule] = table[b]
            continue
        groups: dict = {}
        for budget in budgets:
            groups.setdefault(runner.group(budget), []).append(budget)
        for gkey, members in groups.items():
            capacity = max(members)
            one, fn = _family_fn(runner, capacity, len(members) > 1, lm, prm, max_steps, gkey)
            if jax.eval_shape(one, jax.random.key(0), prompt0, capacity) is None:
                continue
            for budget in members:
                keys = jax.random.split(jax.random.fold_in(k_fam, budget), num_problems)
                jobs.append(((family, budget), fn, keys, budget))
    for slot, fn, keys, budget in jobs:
        out = fn(keys, probs, jnp.asarray(budget, jnp.int32))
        results[slot] = {rule: np.asarray(a) == 0 for rule, a in out.items()}
    for m, name in enumerate(names):
        family, rule = plan[name]
        for b, budget in enumerate(budgets):
            if (family, budget) in results:
                correct[m, b] = results[family, budget][rule]
                ran[m, b] = True
    seconds = time.perf_counter() - start
    return BenchmarkTable(names, labels, budgets, correct, ran, seconds, config)
