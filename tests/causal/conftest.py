"""Shared fixtures for the causal tests: the smoking example and random CPTs on a given graph."""

import jax.numpy as jnp
import networkx as nx
import pytest

from probkit import causal

# The smoking example ω(S, T, C) of Jacobs, Kissinger & Zanasi, in S T C order
# (000, 001, 010, 011, 100, 101, 110, 111); see ../shared/research/graphs.md part (c).
SMOKING = [0.50, 0.10, 0.01, 0.02, 0.10, 0.05, 0.02, 0.20]


@pytest.fixture
def smoking_table():
    return jnp.asarray(SMOKING).reshape(2, 2, 2)


@pytest.fixture
def smoking_graph():
    """H (latent) -> S -> T -> C <- H: the front-door graph."""
    return nx.DiGraph([("H", "S"), ("H", "C"), ("S", "T"), ("T", "C")])


@pytest.fixture
def draw_cpts():
    return causal.random_cpts
