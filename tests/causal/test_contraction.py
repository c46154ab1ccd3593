"""Named einsum against numpy's einsum and brute force."""

import jax
import numpy as np
import pytest

from probkit.causal import contract


def test_contract_matches_numpy_einsum(x64):
    rng = np.random.default_rng(0)
    a, b, c = rng.random((2, 3)), rng.random((3, 4)), rng.random((4, 2, 5))
    out = contract([(a, ("i", "j")), (b, ("j", "k")), (c, ("k", "i", "l"))], ("l", "i"))
    exact = np.einsum("ij,jk,kil->li", a, b, c)
    np.testing.assert_allclose(out, exact, rtol=1e-12)  # same sums, different order: rounding only


def test_contract_beyond_52_names(x64):
    # A chain of 60 binary 2x2 factors: the product of the matrices, by repeated matmul.
    mats = np.random.default_rng(1).random((60, 2, 2))
    factors = [(m, (f"v{i}", f"v{i + 1}")) for i, m in enumerate(mats)]
    out = contract(factors, ("v0", "v60"))
    exact = np.linalg.multi_dot(list(mats))
    np.testing.assert_allclose(out, exact, rtol=1e-10)  # 60 products, well conditioned


def test_contract_jits():
    f = jax.jit(lambda a: contract([(a, ("x", "y"))], ("y",)))
    np.testing.assert_allclose(f(np.ones((2, 3))), [2.0, 2.0, 2.0])


@pytest.mark.parametrize(
    ("factors", "output", "match"),
    [
        ([(np.ones((2, 2)), ("x", "x"))], ("x",), "repeated axis names"),
        ([(np.ones((2,)), ("x", "y"))], ("x",), "has shape"),
        ([(np.ones((2,)), ("x",))], ("z",), "appear in no factor"),
        ([(np.ones((2,)), ("x",))], ("x", "x"), "repeated axis names"),
    ],
)
def test_contract_bad_input(factors, output, match):
    with pytest.raises(ValueError, match=match):
        contract(factors, output)
