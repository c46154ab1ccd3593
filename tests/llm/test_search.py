"""Search baselines against brute-force enumeration of their laws on the tabular model."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from probkit import llm
from probkit.llm import engine, search, selection
from probkit.llm.tabular import exact_target
from probkit.testing import assert_chi_square, keys

from .llm_models import PROMPT, tabular_models

LM, PRM = tabular_models()
INIT, TRANS, TABLE = (np.asarray(x) for x in (LM.initial, LM.transition, PRM.table))


def _child_probs(prefix):
    return INIT if not prefix else TRANS[prefix[-1]]


def _reward(path):
    prev = path[-2] if len(path) > 1 else 3
    return TABLE[prev, path[-1]]  # "last" aggregation


def _finished(path):
    return path[-1] == LM.stop_value or len(path) >= LM.num_steps


def _answer(path):
    return sum(path) % 3


def bon_law(vote: bool) -> np.ndarray:
    """Law of the answer of (weighted) best-of-2: argmax reward, ties to the first."""
    exact = exact_target(LM, PRM)
    law = np.zeros(3)
    for (p1, x1), (p2, x2) in itertools.product(zip(exact.prior, exact.paths), repeat=2):
        r1, r2 = _reward(x1), _reward(x2)
        a1, a2 = _answer(x1), _answer(x2)
        if vote and a1 == a2:
            win = a1
        else:
            win = a1 if r1 >= r2 else a2
        law[win] += p1 * p2
    return law


def dvts_law() -> np.ndarray:
    """One subtree, two children per step, keep the best child (ties to the first)."""
    law = np.zeros(3)

    def walk(prefix, prob):
        probs = _child_probs(prefix)
        for c1, c2 in itertools.product(range(3), repeat=2):
            kids = [(*prefix, c1), (*prefix, c2)]
            best = kids[int(np.argmax([_reward(k) for k in kids]))]
            p = prob * probs[c1] * probs[c2]
            if _finished(best):
                law[_answer(best)] += p
            else:
                walk(best, p)

    walk((), 1.0)
    return law


def beam_law() -> np.ndarray:
    """Beam search with N = M = 2: pool the finished, continue from the best unfinished."""
    law = np.zeros(3)

    def walk(prefix, pool, prob):
        probs = _child_probs(prefix)
        for c1, c2 in itertools.product(range(3), repeat=2):
            kids = [(*prefix, c1), (*prefix, c2)]
            p = prob * probs[c1] * probs[c2]
            new_pool = list(pool)
            for k in kids:
                if _finished(k) and len(new_pool) < 2:
                    new_pool.append(k)
            open_kids = [k for k in kids if not _finished(k)]
            if len(new_pool) >= 2 or not open_kids:
                best = new_pool[int(np.argmax([_reward(k) for k in new_pool]))]
                law[_answer(best)] += p
            else:
                walk(max(open_kids, key=_reward), new_pool, p)  # max: first of ties

    walk((), [], 1.0)
    return law


def _answers(fn, num_runs, seed, **kw):
    run = jax.jit(jax.vmap(lambda k: fn(k, engine.JaxBackend(LM, PRM), PROMPT, **kw)))
    return run(keys(num_runs, seed))


def test_best_of_n_matches_enumeration():
    res = _answers(search.best_of_n_backend, 4000, 0, n=2, max_steps=4, select="argmax")
    # Exact laws by enumerating the 31 x 31 pairs of complete paths; chi-square at 1e-3.
    assert_chi_square(np.bincount(np.asarray(res.answer), minlength=3), bon_law(False), 1e-3)
    # Weighted best-of-N on the same solutions: the answer with the largest reward sum.
    voted = jax.vmap(lambda a, r: a[selection.select(None, "vote", a, r, jnp.log(r), r)])(
        res.answers, res.rewards
    )
    assert_chi_square(np.bincount(np.asarray(voted), minlength=3), bon_law(True), 1e-3)
    # Each solution is generated step by step and scored once, when it finishes.
    np.testing.assert_array_equal(res.budget.steps, np.asarray(res.lengths).sum(1))
    np.testing.assert_array_equal(res.budget.scored, 2)


def test_dvts_matches_enumeration():
    res = _answers(search.dvts_backend, 4000, 1, n=2, width=2, max_steps=4, select="argmax")
    assert_chi_square(np.bincount(np.asarray(res.answer), minlength=3), dvts_law(), 1e-3)
    assert np.all(np.asarray(res.valid))


def test_beam_search_matches_enumeration():
    res = _answers(search.beam_search_backend, 4000, 2, n=2, width=2, max_steps=4, select="argmax")
    assert_chi_square(np.bincount(np.asarray(res.answer), minlength=3), beam_law(), 1e-3)
    # Two extensions per step until the pool is full; the answer is the pool's best.
    steps = np.asarray(res.num_steps)
    np.testing.assert_array_equal(np.asarray(res.budget.steps), 2 * steps)
    assert np.all(np.asarray(res.valid).sum(1) == 2)
    best = np.argmax(np.where(np.asarray(res.valid), np.asarray(res.rewards), -np.inf), 1)
    np.testing.assert_array_equal(np.asarray(res.index), best)


class Scripted:
    """Text LM: every particle writes 'a' then finishes with \\boxed{len(prefix)}."""

    separator = "\n\n"

    def extend(self, prompt, prefixes, *, seeds=None):
        return [
            llm.Step("a" if len(p) < 2 else f"\\boxed{{{seeds[i] % 2}}}", len(p) >= 2, 3)
            for i, p in enumerate(prefixes)
        ]


def test_text_search_methods_run_and_account_budget():
    prm = llm.OutcomeRewardModel(lambda p, rs: [0.2 + 0.5 * ("boxed{1}" in r) for r in rs])
    for fn in (llm.best_of_n, llm.weighted_best_of_n, llm.beam_search, llm.dvts):
        kw = {} if "best" in fn.__name__ else {"beam_width": 2}
        res = fn(jax.random.key(0), Scripted(), prm, "Q?", 4, **kw)
        assert res.response.startswith("a\n\na\n\n\\boxed{")
        assert res.answer in {"0", "1"}
        assert int(res.budget.tokens) == 3 * int(res.budget.steps)
    res = llm.best_of_n(jax.random.key(1), Scripted(), prm, "Q?", 16)
    assert res.answer == "1"  # the PRM prefers answer 1 and 16 tries surely produce it


def test_budget_smaller_than_beam_width_is_refused():
    for fn in (llm.beam_search, llm.dvts):
        with pytest.raises(ValueError, match="at least beam_width"):
            fn(jax.random.key(0), LM, PRM, PROMPT, 2, beam_width=4)
        with pytest.raises(ValueError, match="multiple of beam_width"):
            fn(jax.random.key(0), LM, PRM, PROMPT, 6, beam_width=4)
        with pytest.raises(ValueError, match="select"):
            fn(jax.random.key(0), LM, PRM, PROMPT, 4, beam_width=2, select="best")
    with pytest.raises(ValueError, match="budget"):
        llm.best_of_n(jax.random.key(0), LM, PRM, PROMPT, 0)
    with pytest.raises(ValueError, match="non-empty"):
        llm.dvts(
            jax.random.key(0),
            Scripted(),
            llm.OutcomeRewardModel(lambda p, r: []),
            " ",
            4,
            beam_width=2,
        )
