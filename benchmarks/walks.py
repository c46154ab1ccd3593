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
import networkx as nx
import numpy as np

from benchmarks.common import interleaved_medians, machine, md_table, versions, write_fragment
from probkit import walks

ALPHA = 5.0


class NumpySRRW:
    """W SRRW walkers (SRW base, a = 1) vectorised over walkers in NumPy."""

    def __init__(self, graph: walks.Graph, num_walkers: int, seed: int = 0):
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
        self.counts = np.ones((w, self.n), np.int32)
        self.rep = np.broadcast_to(-self.log_mu, (w, self.n)).copy()  # log c - log μ
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
    """The four timed programs for W = w (probkit's compiled and run once)."""
    keys = iter(range(1, 10**6))

    def probkit(fn):
        return lambda: fn(jax.random.key(next(keys)), g, t_jax, alpha=ALPHA, num_walkers=w).counts

    ref = NumpySRRW(g, w)
    fns = [probkit(walks.srrw), probkit(walks.hdt), lambda: ref.run(t_np),
           lambda: python_loop(g, min(w, 10), t_py)]  # fmt: skip
    jax.block_until_ready(fns[0]())
    jax.block_until_ready(fns[1]())
    return fns


def main(quick: bool = False) -> str:
    G = nx.barabasi_albert_graph(10_000, 3, seed=0)
    g = walks.from_networkx(G)
    check_kernel(g)
    sizes = [1, 1000] if quick else [1, 1000, 10_000]
    steps = {1: (20_000, 2_000, 200), 1000: (400, 40, 2), 10_000: (50, 5, 1)}  # jax, np, py
    repeats = 3 if quick else 7
    rows = []
    for w in sizes:
        t_jax, t_np, t_py = steps[w]
        start = time.perf_counter()
        fns = programs(g, w, t_jax, t_np, t_py)
        compile_s = time.perf_counter() - start
        meds = interleaved_medians(fns, repeats=repeats)
        per = [t_jax, t_jax, t_np, t_py]
        walkers = [w, w, w, min(w, 10)]
        rate = [ww * t / m for ww, t, m in zip(walkers, per, meds)]
        rows.append([w, rate[0], rate[1], rate[2], rate[3], rate[0] / rate[2], compile_s])
        print(rows[-1], flush=True)
    table = md_table(
        ["W", "probkit SRRW steps/s", "probkit HDT steps/s", "NumPy vectorised steps/s",
         "Python loop steps/s", "SRRW / NumPy", "probkit first calls s (compile)"],
        rows,
    )  # fmt: skip
    deg = np.asarray(g.degree)
    text = "\n".join(
        [
            "## Self-repellent random walks (benchmarks/walks.py)",
            "",
            f"Barabási–Albert graph, n = 10 000, m = 3 (max degree {deg.max()}, mean "
            f"{deg.mean():.1f}), SRW base, α = {ALPHA}, a = 1; walker-steps per second (higher is",
            "better). The NumPy baseline is the same kernel vectorised over walkers (padded",
            "table, float32, maintained log-count table, inverse-CDF draws; its rows are checked",
            "against probkit's exact K[x] rows); the Python loop steps one walker over its real",
            "neighbours. HDT is the O(1)-per-step variant (a different kernel, for scale).",
            "The machine is shared with other sessions: the four programs are timed in turn,",
            f"round by round (interleaved), medians of {repeats} rounds after a warm-up, compile",
            f"time apart. Machine: {machine()}. Versions: {versions('networkx')}.",
            "",
            table,
            "",
            "Target (issue 14): SRRW >= 10x the vectorised NumPy kernel at W = 1000 on the CPU.",
        ]
    )
    write_fragment("walks", text)
    print(text)
    return text


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    main(parser.parse_args().quick)
