"""A synthetic reasoning testbed: the paper's accuracy-vs-budget picture without model weights.

Each problem has T reasoning steps and a step-error probability q ~ Beta(1.2, 8). At every step
a correct solution goes wrong with probability q, and an error is absorbing. A wrong solution
ends with one of K wrong answers drawn from a skewed, problem-specific law
(p_wrong ~ Dirichlet(0.3·1_K)), so majority voting has a popular wrong answer to fall for.
Answer 0 is the correct one.

The process reward model scores the prefix after step t as

    s_t = sigmoid(c + a·ok_t + b_t + eps_t),   b_t = b_{t-1} + N(0, sd_b²),  eps_t ~ N(0, sd_e²),

where b is a random walk that descendants inherit: a *persistent* PRM error that search can
exploit. Optionally a fraction h of errors are *deceptive* and add +delta to b (reward
hacking). The defaults are the research notes' moderate-noise setting: T = 12, a = 2,
sd_b = 1.0, sd_e = 0.8.

Everything is vectorised in JAX over problems x particles x steps: `benchmark` runs the whole
accuracy-vs-budget table (several methods, budgets 1..128, hundreds of problems, common random
problems for every method) in seconds on a CPU and returns a `BenchmarkTable` with standard
errors, a markdown rendering and a plot.

`TextSyntheticLM` / `text_prm` are the same model behind the *text* protocols (the state is
written into each step's text), for exercising text-model code paths and peers such as its_hub
on identical problems.
"""

import dataclasses
import functools
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import ndtri

from probkit.core import validate
from probkit.core.types import Array, PRNGKey
from probkit.llm import filtering as pf
from probkit.llm import gibbs as pg
from probkit.llm import search
from probkit.llm.protocols import (
    JaxLanguageModel,
    JaxRewardModel,
    ProcessRewardModel,
    Step,
    StepOutput,
    aggregate_scores,
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


@dataclasses.dataclass(frozen=True)
class Config:
    """Testbed parameters (defaults: the research notes' moderate-noise setting)."""

    num_steps: int = 12  # T
    error_a: float = 1.2  # q ~ Beta(error_a, error_b)
    error_b: float = 8.0
    num_wrong: int = 10  # K wrong answers
    wrong_concentration: float = 0.3  # p_wrong ~ Dirichlet(wrong_concentration·1_K)
    prm_offset: float = -1.0  # c
    prm_gap: float = 2.0  # a: score gap between correct and wrong prefixes
    prm_step_sd: float = 1.0  # sd_b: persistent random-walk error per step
    prm_obs_sd: float = 0.8  # sd_e: fresh noise per scored prefix
    deceptive_fraction: float = 0.0  # h: fraction of errors that fool the PRM
    deceptive_shift: float = 3.0  # delta added to b by a deceptive error
    early_stop: float = 0.0  # per-step probability that a wrong solution stops early
    tokens_per_step: int = 40  # reported token count of a step (budget accounting)

    def __post_init__(self):
        validate.positive_int("num_steps", self.num_steps)
        validate.positive_float("error_a", self.error_a)
        validate.positive_float("error_b", self.error_b)
        validate.positive_int("num_wrong", self.num_wrong)
        validate.positive_float("wrong_concentration", self.wrong_concentration)
        validate.positive_float("prm_step_sd", self.prm_step_sd, allow_zero=True)
        validate.positive_float("prm_obs_sd", self.prm_obs_sd, allow_zero=True)
        validate.probability("deceptive_fraction", self.deceptive_fraction)
        validate.probability("early_stop", self.early_stop)
        validate.positive_int("tokens_per_step", self.tokens_per_step)


class Problems(NamedTuple):
    """Problems with their step policy and PRM parameters (every field has a leading axis).

    The noise parameters travel with the problems as data, so one compiled method serves every
    noise setting (and settings can be mixed or `vmap`-ed).
    """

    error_prob: Array  # (P,) q: per-step error probability
    wrong_probs: Array  # (P, K) law of the wrong answers
    prm_offset: Array  # (P,) c
    prm_gap: Array  # (P,) a
    prm_step_sd: Array  # (P,) sd_b
    prm_obs_sd: Array  # (P,) sd_e
    deceptive_fraction: Array  # (P,) h
    deceptive_shift: Array  # (P,) delta
    early_stop: Array  # (P,)


def problems(key: PRNGKey, num_problems: int, config: Config = Config()) -> Problems:
    """`num_problems` problems: a leading axis on every field (index one to get a prompt).

    Drawn with NumPy from a seed taken from `key` (Beta and Dirichlet draws compile slowly in
    JAX, and problems are data, not part of any method).
    """
    validate.key("key", key)
    num_problems = validate.positive_int("num_problems", num_problems)
    seed = np.asarray(
        jax.random.key_data(key) if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) else key
    ).ravel()
    rng = np.random.default_rng(seed.astype(np.uint64).tolist())
    f = jnp.result_type(float)
    q = rng.beta(config.error_a, config.error_b, num_problems)
    w = rng.dirichlet(np.full(config.num_wrong, config.wrong_concentration), num_problems)
    w = np.maximum(w, np.finfo(np.float32).tiny)  # tiny concentrations can underflow to 0
    w = w / w.sum(axis=1, keepdims=True)
    fill = lambda v: jnp.full((num_problems,), v, f)  # noqa: E731
    return Problems(
        jnp.asarray(q, f),
        jnp.asarray(w, f),
        fill(config.prm_offset),
        fill(config.prm_gap),
        fill(config.prm_step_sd),
        fill(config.prm_obs_sd),
        fill(config.deceptive_fraction),
        fill(config.deceptive_shift),
        fill(config.early_stop),
    )


class SyntheticParticles(NamedTuple):
    ok: Array  # (N,) bool, no error so far
    answer: Array  # (N,) int32: 0 correct, 1..K wrong, -1 not finished
    bias: Array  # (N,) persistent PRM error b
    scores: Array  # (N, T) PRM score of each prefix (0 beyond the length)
    length: Array  # (N,) int32


@dataclasses.dataclass(frozen=True)
class SyntheticLM(JaxLanguageModel):
    """The testbed's step policy; the prompt is one problem of `Problems` (which carries the
    noise parameters), the model itself only the static sizes."""

    num_steps: int = 12
    tokens_per_step: int = 40

    @classmethod
    def from_config(cls, config: Config) -> "SyntheticLM":
        return cls(config.num_steps, config.tokens_per_step)

    def init(self, prompt, num_particles):
        n, t = num_particles, self.num_steps
        f = jnp.result_type(float)
        return SyntheticParticles(
            jnp.ones((n,), bool),
            jnp.full((n,), -1, jnp.int32),
            jnp.zeros((n,), f),
            jnp.zeros((n, t), f),
            jnp.zeros((n,), jnp.int32),
        )

    def extend(self, key, prompt, particles):
        c = prompt
        n = particles.length.shape[0]
        f = particles.bias.dtype
        # One uniform draw per particle and purpose (a single threefry call keeps compilation
        # fast); normals by the inverse CDF, the wrong answer by inverting its CDF.
        tiny = jnp.finfo(f).eps
        u = jax.random.uniform(key, (6, n), f, minval=tiny, maxval=1 - tiny)
        err = particles.ok & (u[0] < c.error_prob)
        deceptive = err & (u[1] < c.deceptive_fraction)
        ok = particles.ok & ~err
        bias = particles.bias + c.prm_step_sd * ndtri(u[2]) + c.deceptive_shift * deceptive
        eps = c.prm_obs_sd * ndtri(u[3])
        s = jax.nn.sigmoid(c.prm_offset + c.prm_gap * ok + bias + eps)
        pos = jnp.clip(particles.length, 0, self.num_steps - 1)
        scores = particles.scores.at[jnp.arange(n), pos].set(s)
        length = particles.length + 1
        finished = (length >= self.num_steps) | (~ok & (u[4] < c.early_stop))
        cdf = jnp.cumsum(c.wrong_probs)
        k = c.wrong_probs.shape[-1]
        wrong = 1 + jnp.clip(jnp.searchsorted(cdf, u[5] * cdf[-1]), 0, k - 1)
        answer = jnp.where(finished, jnp.where(ok, 0, wrong), -1).astype(jnp.int32)
        out = StepOutput(finished, jnp.full((n,), self.tokens_per_step, jnp.int32))
        return SyntheticParticles(ok, answer, bias, scores, length), out

    def answer(self, prompt, particles):
        return particles.answer


@dataclasses.dataclass(frozen=True)
class SyntheticPRM(JaxRewardModel):
    """The testbed's PRM: the stored prefix scores aggregated by "last", "min" or "prod"."""

    aggregation: str = "last"

    def __post_init__(self):
        validate.one_of("aggregation", self.aggregation, ("last", "min", "prod"))

    def score(self, prompt, particles):
        return aggregate_scores(particles.scores, particles.length, self.aggregation)


# ---------------------------------------------------------------------------------------------
# The same model behind the text protocols.

_STATE = re.compile(r"\[ok=(\d) b=([-+0-9.eE]+) s=([0-9.eE+-]+)\]")


class TextSyntheticLM:
    """The testbed's step policy as a text `LanguageModel` for one problem.

    Each step reads ``"step t [ok=1 b=+0.123 s=0.711]"``; the last step appends
    ``"\\boxed{A}"`` with A = 0 for the correct answer. Sampling uses `seeds` (one NumPy
    generator per request), so runs are reproducible. With `stop=None` (a request for the
    whole remaining solution, as best-of-N peers make) every remaining step is generated and
    joined with the separator.
    """

    separator = "\n\n"

    def __init__(self, problem: Problems, config: Config = Config()):
        self.params = {
            k: float(np.asarray(v)) for k, v in problem._asdict().items() if k != "wrong_probs"
        }
        self.wrong = np.asarray(problem.wrong_probs, dtype=float)
        self.wrong = self.wrong / self.wrong.sum()
        self.num_steps = config.num_steps
        self.tokens_per_step = config.tokens_per_step

    def next_step(self, steps: Sequence[str], rng: np.random.Generator) -> Step:
        c = self.params
        ok, bias = True, 0.0
        if steps:
            m = _STATE.search(steps[-1])
            if m is None:
                raise ValueError(f"unrecognised step text {steps[-1]!r}")
            ok, bias = m.group(1) == "1", float(m.group(2))
        err = ok and rng.random() < c["error_prob"]
        deceptive = err and rng.random() < c["deceptive_fraction"]
        ok = ok and not err
        bias += c["prm_step_sd"] * rng.standard_normal() + c["deceptive_shift"] * deceptive
        eps = c["prm_obs_sd"] * rng.standard_normal()
        s = 1.0 / (1.0 + np.exp(-(c["prm_offset"] + c["prm_gap"] * ok + bias + eps)))
        t = len(steps) + 1
        finished = t >= self.num_steps or (not ok and rng.random() < c["early_stop"])
        text = f"step {t} [ok={int(ok)} b={bias:+.6f} s={s:.9f}]"
        if finished:
            ans = 0 if ok else 1 + int(rng.choice(len(self.wrong), p=self.wrong))
            text += f" so the answer is \\boxed{{{ans}}}"
        return Step(text, finished, self.tokens_per_step)

    def extend(self, prompt, prefixes, *, seeds=None):
        seeds = seeds if seeds is not None else [None] * len(prefixes)
        return [self.next_step(p, np.random.default_rng(s)) for p, s in zip(prefixes, seeds)]

    def complete(self, steps: Sequence[str], rng: np.random.Generator) -> list[str]:
        """Generate every remaining step of a solution."""
        steps = list(steps)
        while True:
            step = self.next_step(steps, rng)
            steps.append(step.text)
            if step.finished:
                return steps


def _step_scores_from_text(prompt, prefixes):
    out = []
    for steps in prefixes:
        scores = []
        for s in steps:
            scores += [float(m.group(3)) for m in _STATE.finditer(s)]
        out.append(scores)
    return out


def text_prm(aggregation: str = "last") -> ProcessRewardModel:
    """The testbed's PRM as a text `ProcessRewardModel` (reads the scores written in steps)."""
    return ProcessRewardModel(_step_scores_from_text, aggregation)


# ---------------------------------------------------------------------------------------------
# The benchmark.

DEFAULT_BUDGETS = (1, 2, 4, 8, 16, 32, 64, 128)
DEFAULT_METHODS = ("bon", "wbon", "beam", "dvts", "pf", "pf_vote")


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
    config: Config = Config(),
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
