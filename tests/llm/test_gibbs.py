"""Particle Gibbs and parallel tempering: exact invariance on the tabular model, paper rule."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from probkit import llm
from probkit.llm import engine, gibbs
from probkit.llm import filtering as pf
from probkit.llm.tabular import TabularParticles, exact_target
from probkit.llm.weighting import logit_reward
from probkit.testing import assert_chi_square, keys

from .llm_models import PROMPT, tabular_models

LM, PRM = tabular_models()
TABLE = np.asarray(PRM.table)
T = LM.num_steps


def _reference_arrays(path):
    length = len(path)
    vals = np.full((T, T), -1, np.int32)
    lens = np.zeros(T, np.int32)
    rewards = np.zeros(T, np.float32)
    scores = [TABLE[a, b] for a, b in zip((3, *path[:-1]), path)]
    for t in range(T):
        k = min(t + 1, length)
        vals[t, :k], lens[t], rewards[t] = path[:k], k, scores[k - 1]
    return vals, lens, rewards, np.int32(length)


def _as_reference(vals, lens, rewards, length) -> pf.Reference:
    return pf.Reference(
        TabularParticles(jnp.asarray(vals), jnp.asarray(lens)),
        jnp.asarray(rewards),
        jnp.asarray(length),
        jnp.zeros(np.shape(length), bool),
    )


def reference(path) -> pf.Reference:
    """A tabular path as a Reference: its prefix after each step, and each prefix's reward."""
    return _as_reference(*_reference_arrays(path))


def draw_references(exact, num, seed):
    idx = np.random.default_rng(seed).choice(len(exact.paths), size=num, p=exact.target)
    table = [_reference_arrays(p) for p in exact.paths]
    return _as_reference(*(np.stack([table[i][f] for i in idx]) for f in range(4)))


def path_counts(exact, refs):
    index = {p: i for i, p in enumerate(exact.paths)}
    vals = np.asarray(refs.particles.values)
    lens = np.asarray(refs.length)
    ids = [index[tuple(v[length - 1, :length])] for v, length in zip(vals, lens)]
    return np.bincount(ids, minlength=len(exact.paths))


def test_twisted_particle_gibbs_leaves_target_invariant():
    exact = exact_target(LM, PRM)
    refs = draw_references(exact, 4000, 0)
    cfg = pf.filter_config(weighting="twisted", max_steps=T)

    def sweep(k, ref):
        return gibbs._sweep(k, engine.JaxBackend(LM, PRM), PROMPT, 4, cfg, ref)[1]

    new = jax.jit(jax.vmap(sweep))(keys(4000, 1), refs)
    # Conditional SMC is exact for any N: a reference drawn from the target is followed by a
    # new reference with the target's law (N = 4 here; chi-square over the 31 paths, 1e-3).
    assert_chi_square(path_counts(exact, new), exact.target, alpha=1e-3, what="PG paths")
    changed = np.mean(np.asarray(new.length) != np.asarray(refs.length))
    assert changed > 0.2  # the chain moves


def test_parallel_tempering_leaves_each_tempered_target_invariant():
    temps = (2.0, 1.0)
    exacts = [exact_target(LM, PRM, t) for t in temps]
    cfg = pf.filter_config(weighting="twisted", max_steps=T)
    refs = [draw_references(e, 3000, 2 + i) for i, e in enumerate(exacts)]
    refs = jax.tree.map(lambda *x: jnp.stack(x, 1), *refs)  # (runs, chains, ...)

    def step(k, chain_refs):
        chains, tally = gibbs._tempering_step(
            k, engine.JaxBackend(LM, PRM), PROMPT, 4, cfg, temps, chain_refs, 0
        )
        return chains.refs, tally[0, 1]

    new, accepted = jax.jit(jax.vmap(step))(keys(3000, 3), refs)
    # Sweeps and the replica-exchange swap each leave pi_1 x pi_2 invariant (chi-square, 1e-3).
    for c, e in enumerate(exacts):
        r = jax.tree.map(lambda x, c=c: x[:, c], new)
        assert_chi_square(path_counts(e, r), e.target, alpha=1e-3, what="tempered chain")
    assert 0.05 < float(np.mean(np.asarray(accepted))) < 0.99


def test_swap_acceptance_probability():
    temps = (4.0, 1.0)
    path_lo, path_hi = (0, 0, 0, 1), (1, 1, 1, 1)  # final rewards 0.4 and 0.8
    r_lo, r_hi = TABLE[0, 1], TABLE[1, 1]
    backend = engine.JaxBackend(LM, PRM)

    refs = jax.tree.map(lambda *x: jnp.stack(x), *(reference(p) for p in (path_lo, path_hi)))

    @jax.jit
    @jax.vmap
    def accept(k, flip):
        order = jnp.where(flip, jnp.array([1, 0]), jnp.array([0, 1]))
        chains = jax.tree.map(lambda x: x[order], refs)
        return gibbs._swap(k, backend, chains, "twisted", temps, 0)[1][0, 1]

    flips = jnp.arange(6000) >= 5000
    decided = np.asarray(accept(keys(6000, 4), flips))
    # The better path is in the cold chain: moving it to the hot chain is accepted with
    # probability exp((1/4 - 1)(log r_hi - log r_lo)) (5000 proposals, 4 SE); the reverse move
    # always is.
    expected = min(1.0, np.exp((0.25 - 1.0) * (np.log(r_hi) - np.log(r_lo))))
    rate = float(decided[:5000].mean())
    assert abs(rate - expected) < 4 * np.sqrt(expected * (1 - expected) / 5000)
    assert decided[5000:].all()


def test_paper_reference_competes_with_prefix_weight_and_forks_truncated():
    ref = reference((0, 1, 1, 0))  # prefix rewards 0.7, 0.4, 0.8, 0.3
    cfg = pf.filter_config(weighting="paper", max_steps=T)
    state = pf.init(LM, PRM, PROMPT, 6, cfg)

    def two_steps(k):
        k1, k2 = jax.random.split(k)
        state1, info = pf.step(k1, state, LM, PRM, PROMPT, cfg, ref)
        return state1, info, pf.step(k2, state1, LM, PRM, PROMPT, cfg, ref)[0]

    state1, info, state2 = jax.jit(jax.vmap(two_steps))(keys(2000, 6))
    lp = np.asarray(info.resampling_log_probs)
    # Step 1: particle 0 is the reference, weighted by its one-step prefix reward 0.7; the
    # free particles' first-step rewards are table row 3 entries. Under the paper's rule
    # lp_j - lp_0 = logit(r_j) - logit(0.7), so each recovered logit must be one of those.
    recovered = lp[:, 1:] - lp[:, :1] + float(logit_reward(0.7))
    allowed = np.asarray(logit_reward(jnp.asarray(TABLE[3])))
    assert np.all(np.min(np.abs(recovered[..., None] - allowed), -1) < 1e-4)
    # The free particles are resampled from all N (the reference included); slot 0 stays.
    anc = np.asarray(info.ancestors)
    assert np.all(anc[:, 0] == 0)
    forks = anc == 0
    forks[:, 0] = False
    assert forks.mean() > 0.05
    # A fork of the reference is its prefix at this step (truncated on fork), not finished.
    vals = np.asarray(state1.particles.values)
    assert np.all(vals[forks] == np.array([0, -1, -1, -1]))
    assert not np.any(np.asarray(state1.finished)[forks])
    # Step 2: particle 0 follows the reference and competes with its 2-step prefix reward.
    np.testing.assert_array_equal(
        np.asarray(state2.particles.values[:, 0]), np.tile([0, 1, -1, -1], (2000, 1))
    )
    np.testing.assert_allclose(np.asarray(state2.rewards[:, 0]), TABLE[0, 1], rtol=1e-6)


class TextTabular:
    """The tabular model behind the text protocol (steps "0", "1", "2")."""

    separator = " "

    def extend(self, prompt, prefixes, *, seeds=None):
        out = []
        for steps, seed in zip(prefixes, seeds):
            p = LM.initial if not steps else LM.transition[int(steps[-1])]
            v = int(np.random.default_rng(seed).choice(3, p=np.asarray(p) / np.sum(p)))
            out.append(llm.Step(str(v), len(steps) + 1 >= T or v == LM.stop_value, 1))
        return out


def text_prm():
    def scores(prompt, prefixes):
        return [
            [TABLE[a, b] for a, b in zip([3, *map(int, p[:-1])], map(int, p))] for p in prefixes
        ]

    return llm.ProcessRewardModel(scores, "last")


def test_public_runs_budget_and_errors():
    res = llm.particle_gibbs(
        jax.random.key(0), LM, PRM, PROMPT, 6, 3, weighting="twisted", max_steps=T
    )
    assert res.reference_answers.shape == (3,) and int(res.answer) in (0, 1, 2)
    # Five free particles per sweep after the first: the reference is not regenerated.
    assert int(res.budget.steps) <= 6 * T + 2 * 5 * T
    answer_fn = lambda text: str(sum(map(int, text.split())) % 3)  # noqa: E731
    res = llm.parallel_tempering(
        jax.random.key(1),
        TextTabular(),
        text_prm(),
        "tabular",
        4,
        3,
        (3.0, 1.0),
        weighting="twisted",
        max_steps=T,
        answer_fn=answer_fn,
    )
    assert res.swap_acceptance.shape == (1,) and len(res.reference_answers) == 3
    assert res.answer in {"0", "1", "2"} and res.response.split()[0] in {"0", "1", "2"}
    with pytest.raises(ValueError, match="num_particles"):
        llm.particle_gibbs(jax.random.key(0), LM, PRM, PROMPT, 1, 3)
    with pytest.raises(ValueError, match="decreasing"):
        llm.parallel_tempering(jax.random.key(0), LM, PRM, PROMPT, 4, 2, (1.0, 2.0))
    with pytest.raises(ValueError, match="num_iterations"):
        llm.particle_gibbs(jax.random.key(0), LM, PRM, PROMPT, 4, 0)
