"""SRRW walker-steps per second: probkit vs a vectorised NumPy kernel and a Python loop.

Barabási–Albert graph, 10 000 nodes, m = 3 (max degree ~430, mean 6), SRW base, α = 5,
visit-frequency measure (a = 1). The NumPy baseline is the same kernel vectorised over walkers,
written as a careful user would: the padded (n, D + 1) table, float32, a maintained
(W, n) table of log(count) − log μ updated in O(1) per walker and step (no logarithm over the
rows), flat `take` gathers, inverse-CDF sampling with one uniform per walker. The per-walker
Python loop steps one walker at a time over its real neighbours only. Programs are timed in turn
(interleaved rounds) because the machine is shared; medians after a warm-up, compile time apart.
Run: `python -m benchmarks.walks [--quick]`.
"""

import argparse
import time

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np

from benchmarks.common import interleaved_medians, machine, md_table, versions, write_fragment
from probkit import walks
from probkit.walks import bucketed

ALPHA = 5.0


class NumpySRRW:
    """W SRRW walkers (SRW base, a = 1) vectorised over walkers in NumPy."""

    def __init__(self, graph: walks.Graph, num_walkers: int, seed: int = 0, warm=None):
        chain = walks.base_chain(graph, "srw")
        self.nbr = np.asarray(chain.neighbors)
        self.log_p = np.asarray(chain.log_p, np.float32)
        self.log_mu = np.asarray(chain.log_mu, np.float32)
        self.last = np.asarray(graph.degree) - 1  # last real column of each row
        self.n = self.nbr.shape[0]
        self.rng = np.random.default_rng(seed)
        w = num_walkers
        self.rows = np.arange(w)
        self.base = (self.rows * self.n)[:, None]
        start = np.ones(self.n, np.int32) if warm is None else np.asarray(warm, np.int32)
        self.counts = np.broadcast_to(start, (w, self.n)).copy()
        rep = np.log(start).astype(np.float32) - self.log_mu  # log c - log μ
        self.rep = np.broadcast_to(rep, (w, self.n)).copy()
        self.pos = self.rng.choice(
            self.n, size=w, p=np.exp(self.log_mu) / np.exp(self.log_mu).sum()
        )

    def probabilities(self):
        """(W, D + 1) rows K[x](X, ·) of the current state (to check the kernel)."""
        nb = self.nbr[self.pos]
        logits = self.log_p[self.pos] - ALPHA * np.take(self.rep, self.base + nb)
        w = np.exp(logits - logits.max(axis=1, keepdims=True))
        return nb, w / w.sum(axis=1, keepdims=True)

    def run(self, num_steps: int):
        rep_flat, counts_flat = self.rep.reshape(-1), self.counts.reshape(-1)
        for _ in range(num_steps):
            nb = self.nbr[self.pos]  # (W, D + 1)
            logits = np.take(rep_flat, self.base + nb)
            logits *= -ALPHA
            logits += self.log_p[self.pos]
            logits -= logits.max(axis=1, keepdims=True)
            np.exp(logits, out=logits)
            np.cumsum(logits, axis=1, out=logits)
            u = self.rng.random(self.rows.size, dtype=np.float32) * logits[:, -1]
            k = np.minimum((logits <= u[:, None]).sum(axis=1), self.last[self.pos])
            j = nb[self.rows, k]
            flat = self.rows * self.n + j
            counts_flat[flat] += 1
            rep_flat[flat] = np.log(counts_flat[flat]) - self.log_mu[j]
            self.pos = j
        return self.pos


def python_loop(graph: walks.Graph, num_walkers: int, num_steps: int, seed: int = 0):
    """One walker at a time, real neighbours only (no padding): the naive baseline."""
    adj = [list(map(int, r[:d])) for r, d in zip(np.asarray(graph.neighbors), graph.degree)]
    deg = np.asarray(graph.degree, float)
    log_mu = np.log(deg / deg.sum())
    rng = np.random.default_rng(seed)
    for _ in range(num_walkers):
        counts = np.ones(len(adj))
        x = int(rng.integers(len(adj)))
        for _ in range(num_steps):
            nb = adj[x]
            lg = -ALPHA * (np.log(counts[nb]) - log_mu[nb])  # P(x, ·) uniform: it cancels
            w = np.exp(lg - lg.max())
            x = nb[int(np.searchsorted(np.cumsum(w), rng.random() * w.sum(), side="right"))]
            counts[x] += 1
    return x


def check_kernel(g):
    """The NumPy rows equal probkit's exact K[x] rows (after a few NumPy steps)."""
    ref = NumpySRRW(g, 4, seed=1)
    ref.run(50)
    nb, p = ref.probabilities()
    chain = walks.base_chain(g, "srw")
    for w in range(4):
        state = walks.init(jax.random.key(0), chain, start=int(ref.pos[w]))._replace(
            counts=jax.numpy.asarray(ref.counts[w])
        )
        nbj, pj = walks.transition_probabilities(state, chain, ALPHA)
        np.testing.assert_array_equal(np.asarray(nbj), nb[w])
        np.testing.assert_allclose(np.asarray(pj), p[w], atol=1e-5)


def programs(g, w, t_jax, t_np, t_py) -> list:
    """The timed programs for W = w from a fresh start (probkit's compiled and run once)."""
    keys = iter(range(1, 10**6))

    def probkit(fn, **kw):
        def run():
            key = jax.random.key(next(keys))
            return fn(key, g, t_jax, alpha=ALPHA, num_walkers=w, **kw).counts

        return run

    ref = NumpySRRW(g, w)
    fns = [probkit(walks.srrw), probkit(walks.srrw, layout="bucketed"), probkit(walks.hdt),
           lambda: ref.run(t_np), lambda: python_loop(g, 10, t_py)]  # fmt: skip
    for fn in fns[:3]:
        jax.block_until_ready(fn())
    return fns


def steady_programs(g, w, t_jax, t_np) -> list:
    """Per-step programs near stationarity: counts preset to round(10^6 μ), so x ≈ μ and the
    walkers (drawn from μ) stay spread as μ; padded and bucketed steps, and NumPy."""
    chain = walks.base_chain(g, "srw")
    mu = np.exp(np.asarray(chain.log_mu, float))
    warm = np.maximum(1, np.round(mu * 1e6)).astype(np.int32)
    s0 = jax.vmap(lambda k: walks.init(k, chain))(jax.random.split(jax.random.key(0), w))
    s0 = s0._replace(counts=jnp.broadcast_to(jnp.asarray(warm), s0.counts.shape))
    widths = bucketed.bucket_widths(g)

    def make(layout):
        @jax.jit
        def run(key, s0):
            def body(s, k):
                ks = jax.random.split(k, w)
                if layout == "padded":
                    return jax.vmap(lambda kk, ss: walks.step(kk, ss, chain, ALPHA))(ks, s)[0], None
                s, _ = bucketed.bucketed_step(ks, s, chain, ALPHA, widths, base="srw",
                                              step_exponent=1.0)  # fmt: skip
                return s, None

            return jax.lax.scan(body, s0, jax.random.split(key, t_jax))[0].counts

        return run

    keys = iter(range(1, 10**6))
    fns = [make("padded"), make("bucketed")]
    fns = [lambda f=f: f(jax.random.key(next(keys)), s0) for f in fns]
    for fn in fns:
        jax.block_until_ready(fn())
    ref = NumpySRRW(g, w, warm=warm)
    return [*fns, lambda: ref.run(t_np)]


def main(quick: bool = False) -> str:
    G = nx.barabasi_albert_graph(10_000, 3, seed=0)
    g = walks.from_networkx(G)
    check_kernel(g)
    sizes = [1, 1000] if quick else [1, 1000, 10_000]
    steps = {1: (20_000, 2_000, 100), 1000: (200, 40, 100), 10_000: (20, 4, 100)}  # jax np py
    repeats = 3 if quick else 7
    rows = []
    for w in sizes:
        t_jax, t_np, t_py = steps[w]
        start = time.perf_counter()
        fns = programs(g, w, t_jax, t_np, t_py)
        compile_s = time.perf_counter() - start
        meds = interleaved_medians(fns, repeats=repeats)
        work = [w * t_jax] * 3 + [w * t_np, 10 * t_py]
        rate = [x / m for x, m in zip(work, meds)]
        rows.append([w, *rate, rate[0] / rate[3], rate[1] / rate[3], compile_s])
        print(rows[-1], flush=True)
    steady = []
    for w in [1, 1000] if quick else [1, 1000, 10_000]:
        t_jax, t_np, _ = steps[w]
        meds = interleaved_medians(steady_programs(g, w, t_jax, t_np), repeats=repeats)
        rate = [w * t_jax / meds[0], w * t_jax / meds[1], w * t_np / meds[2]]
        steady.append([w, *rate, rate[0] / rate[2], rate[1] / rate[2]])
        print(steady[-1], flush=True)
    table = md_table(
        ["W", "SRRW padded", "SRRW bucketed", "HDT", "NumPy vectorised", "Python loop",
         "padded / NumPy", "bucketed / NumPy", "probkit first calls s (3 compiles)"],
        rows,
    )  # fmt: skip
    table2 = md_table(
        ["W", "SRRW padded", "SRRW bucketed", "NumPy vectorised", "padded / NumPy",
         "bucketed / NumPy"],
        steady,
    )  # fmt: skip
    deg = np.asarray(g.degree)
    at = {r[0]: r for r in rows}.get(1000)
    st = {r[0]: r for r in steady}.get(1000)
    verdict = (
        f"padded {at[6]:.2f}x, bucketed {at[7]:.2f}x from a fresh start; padded {st[4]:.2f}x, "
        f"bucketed {st[5]:.2f}x near stationarity"
    )
    text = "\n".join(
        [
            "## Self-repellent random walks (benchmarks/walks.py)",
            "",
            f"Barabási–Albert graph, n = 10 000, m = 3 (max degree {deg.max()}, mean "
            f"{deg.mean():.1f}), SRW base, α = {ALPHA}, a = 1, float32; walker-steps per second",
            "(higher is better). The NumPy baseline is the same kernel vectorised over walkers",
            "(padded table, float32, a maintained (W, n) log-count table so no logarithm per row",
            "entry, flat gathers, inverse-CDF draws; its rows are checked against probkit's",
            "exact K[x] rows); the Python loop steps 10 walkers one at a time over their real",
            "neighbours. HDT is the O(1)-per-step variant (another kernel, for scale).",
            "The machine is shared with other sessions (load average about 10 on 2 cores): the",
            "programs of a row are timed in turn, round by round (interleaved), medians of",
            f"{repeats} rounds after a warm-up, compile time apart.",
            f"Machine: {machine()}. Versions: {versions('networkx')}.",
            "",
            "Fresh start (`walks.srrw` as a user calls it: one visit per node, walkers from μ;",
            f"T = {', '.join(f'{steps[w][0]} at W = {w}' for w in sizes)} steps for probkit):",
            "",
            table,
            "",
            "Near stationarity (counts preset to round(10^6 μ), so x ≈ μ; the per-step kernels",
            "`walks.step` (vmapped) and `walks.bucketed.bucketed_step` in a `lax.scan`, NumPy",
            "from the same counts):",
            "",
            table2,
            "",
            "Target (issue 14): SRRW >= 10x the vectorised NumPy kernel at W = 1000 on the CPU.",
            f"Measured at W = 1000: {verdict}. Target missed.",
            "Early in a run SRRW drives the walkers to the hubs (x_0 is uniform, so x_j/μ_j is",
            "smallest at high degree): most walkers read long rows and the bucketed layout saves",
            "little. Near stationarity they are spread as μ and it reads about Σ width instead",
            "of W (D + 1) entries. At W >= 1000 both implementations are bound by the random",
            "gathers of counts[w, neighbours] from the (W, n) table.",
        ]
    )
    write_fragment("walks", text)
    print(text)
    return text


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    main(parser.parse_args().quick)
