"""Protocol helpers: reward aggregation, answer extraction, selection rules, model checks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from probkit import llm
from probkit.llm import engine, selection
from probkit.llm.answers import canonical, extract_answer, last_boxed
from probkit.llm.protocols import aggregate_scores


def test_aggregations_by_hand():
    scores = jnp.array([[0.9, 0.5, 0.8, 0.0], [0.6, 0.7, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    length = jnp.array([3, 2, 0])
    np.testing.assert_allclose(aggregate_scores(scores, length, "last"), [0.8, 0.7, 1.0])
    np.testing.assert_allclose(aggregate_scores(scores, length, "min"), [0.5, 0.6, 1.0])
    np.testing.assert_allclose(
        aggregate_scores(scores, length, "prod"), [0.36, 0.42, 1.0], rtol=1e-6
    )
    with pytest.raises(ValueError, match="aggregation"):
        aggregate_scores(scores, length, "mean")


def test_process_and_outcome_reward_models():
    seen = []

    def step_scores(prompt, prefixes):
        seen.append(list(prefixes))
        return [[0.9, 0.4, 0.7][: len(p)] for p in prefixes]

    prefixes = [("a", "b", "c"), ("a",), ()]
    expected = {"last": [0.7, 0.9, 1.0], "min": [0.4, 0.9, 1.0], "prod": [0.252, 0.9, 1.0]}
    for agg, want in expected.items():
        np.testing.assert_allclose(
            llm.ProcessRewardModel(step_scores, agg).score("q", prefixes), want
        )
    # "model": the PRM judges the whole prefix as one step and its (last) score is used.
    prm = llm.ProcessRewardModel(step_scores, "model", separator="|")
    assert prm.score("q", prefixes) == [0.9, 0.9, 1.0]
    assert seen[-1] == [("a|b|c",), ("a",), ()]
    orm = llm.OutcomeRewardModel(
        lambda q, responses: [len(r) / 10 for r in responses], separator="+"
    )
    assert orm.score("q", prefixes) == [0.5, 0.1, 0.0]
    with pytest.raises(ValueError, match="aggregation"):
        llm.ProcessRewardModel(step_scores, "mean")
    with pytest.raises(TypeError, match="callable"):
        llm.ProcessRewardModel("not a function")
    bad = llm.ProcessRewardModel(lambda q, p: [[0.5]], "last")
    with pytest.raises(ValueError, match="1 score lists for 3 prefixes"):
        bad.score("q", prefixes)


def test_answer_extraction():
    assert extract_answer(r"so \boxed{\frac{1}{2}} or \boxed{ 4.0 }.") == "4"
    assert last_boxed(r"\boxed{a{b}c}") == "a{b}c"
    assert extract_answer("no answer here") is None
    assert extract_answer(r"\boxed{unclosed") is None
    assert canonical("$1,000$") == "1000" and canonical(r"\dfrac{1}{2}") == r"\frac{1}{2}"
    assert canonical("3.50") == "3.5"


def test_selection_rules_by_hand():
    ids = jnp.array([2, 1, 2, -1, 1])
    rewards = jnp.array([0.6, 0.9, 0.5, 0.99, 0.3])
    lw = jnp.log(jnp.array([0.1, 0.3, 0.25, 0.05, 0.3]))
    # argmax: the highest reward, whatever its answer.
    assert int(selection.select(None, "argmax", ids, rewards, lw)) == 3
    # vote: answer 1 has weight 0.6 > answer 2's 0.35; the best particle with answer 1.
    assert int(selection.select(None, "vote", ids, rewards, lw)) == 1
    # vote with reward sums (weighted best-of-N): answer 1: 1.2, answer 2: 1.1.
    assert int(selection.select(None, "vote", ids, rewards, lw, rewards)) == 1
    totals = selection.vote_totals(ids, rewards)
    np.testing.assert_allclose(totals, [1.1, 1.2, 1.1, -np.inf, 1.2], rtol=1e-6)
    # When no particle has an answer, the vote falls back to all of them.
    none = jnp.full(3, -1)
    assert int(selection.select(None, "vote", none, rewards[:3], lw[:3])) == 1
    draws = jax.vmap(lambda k: selection.select(k, "sample", ids, rewards, lw))(
        jax.random.split(jax.random.key(0), 4000)
    )
    freq = np.bincount(np.asarray(draws), minlength=5) / 4000
    np.testing.assert_allclose(freq, np.exp(lw), atol=4 * np.sqrt(0.25 / 4000))
    with pytest.raises(ValueError, match="select"):
        selection.check("best")


def test_model_family_checks():
    class NoExtend:
        pass

    with pytest.raises(TypeError, match="extend"):
        engine.make_backend(NoExtend(), llm.OutcomeRewardModel(lambda q, r: r))
    with pytest.raises(TypeError, match="score"):
        engine.make_backend(type("LM", (), {"extend": lambda *a, **k: []})(), NoExtend())

    class Unhashable(llm.JaxLanguageModel):
        __hash__ = None

    with pytest.raises(TypeError, match="hashable"):
        engine.make_backend(Unhashable(), llm.JaxRewardModel())


def test_text_backend_checks_lm_output():
    class Short:
        def extend(self, prompt, prefixes, *, seeds=None):
            return [llm.Step("x", False)]  # one step for several prefixes

    class Strings:
        def extend(self, prompt, prefixes, *, seeds=None):
            return ["x" for _ in prefixes]

    prm = llm.OutcomeRewardModel(lambda q, r: [0.5] * len(r))
    with pytest.raises(ValueError, match="one Step per prefix"):
        llm.particle_filter(jax.random.key(0), Short(), prm, "q", 3)
    with pytest.raises(TypeError, match="Step objects"):
        llm.particle_filter(jax.random.key(0), Strings(), prm, "q", 2)

    class Done:
        def extend(self, prompt, prefixes, *, seeds=None):
            return [llm.Step("\\boxed{1}", True) for _ in prefixes]

    short_prm = llm.OutcomeRewardModel(lambda q, r: [0.5])
    with pytest.raises(ValueError, match="1 scores for 2 prefixes"):
        llm.best_of_n(jax.random.key(0), Done(), short_prm, "q", 2)


@pytest.mark.parametrize(
    "initial, transition, match",
    [
        (
            [0.9, 0.9],
            [[0.5, 0.5], [0.5, 0.5]],
            r"initial: probabilities must sum to 1; .* 1 \+ 0\.8",
        ),
        ([0.5, 0.5], [[0.9, 0.9], [0.1, 0.1]], r"transition: rows must sum to 1; .*index \(0,\)"),
        ([0.5, 0.5], [[1.5, -0.5], [0.5, 0.5]], "transition has negative entries"),
        ([0.5, np.nan], [[0.5, 0.5], [0.5, 0.5]], "initial must be finite"),
    ],
)
def test_tabular_lm_refuses_tables_that_are_not_distributions(initial, transition, match):
    with pytest.raises(ValueError, match=match):
        llm.tabular.TabularLM(initial, transition)


def test_prm_with_no_scores_for_a_nonempty_prefix_is_an_error():
    prm = llm.ProcessRewardModel(lambda prompt, prefixes: [[] for _ in prefixes])
    assert prm.score("q", [()]) == [1.0]  # an empty prefix has nothing wrong yet
    with pytest.raises(ValueError, match="no scores for prefix 0"):
        prm.score("q", [("step one",)])
    nan_prm = llm.ProcessRewardModel(lambda prompt, prefixes: [[float("nan")] for _ in prefixes])
    with pytest.raises(ValueError, match="non-finite"):
        nan_prm.score("q", [("step one",)])
