"""Star clustering in rounds (the Beam DAG's steps) gives exactly the sequential ``star_clusters``."""
from __future__ import annotations

import random

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from transforms.dedup.clustering import StarClusters, star_clusters_in_rounds
from transforms.dedup.near import star_clusters
from transforms.dedup.nodes import node_key


def _node(i: int, published: bool = False, priority: int = 0):
    return node_key(((0 if published else 1, priority, f"id{i:04d}", f"u{i}"), f"u{i}"))


def _chain(n, ranked_along=True):
    order = list(range(n)) if ranked_along else list(range(n))[::-1]
    return [(_node(order[i]), _node(order[i + 1]), 0.8) for i in range(n - 1)]


def _star(n):
    return [(_node(0), _node(i), 0.7 + i / 1000) for i in range(1, n)]


def _clique(nodes, j=0.9):
    return [(a, b, j) for k, a in enumerate(nodes) for b in nodes[k + 1:]]


def _random_graph(rng, n, m, ties):
    nodes = [_node(i, published=rng.random() < 0.1, priority=rng.randrange(3)) for i in range(n)]
    edges = set()
    while len(edges) < m:
        a, b = rng.sample(nodes, 2)
        j = rng.choice([0.7, 0.8]) if ties else round(rng.uniform(0.7, 1.0), 4)
        edges.add((min(a, b), max(a, b), j) if rng.random() < 0.5 else (max(a, b), min(a, b), j))
    return sorted(edges)


GRAPHS = {
    "chain ranked along it": _chain(40),
    "chain ranked against it": _chain(40, ranked_along=False),
    "star": _star(30),
    "star whose centre ranks last": [(_node(100), _node(i), 0.75) for i in range(20)],
    "clique": _clique([_node(i) for i in range(12)]),
    "cliques sharing a node": _clique([_node(i) for i in range(6)]) + _clique([_node(i) for i in range(5, 11)], 0.8),
    "all ties": _clique([_node(i) for i in range(8)], 0.75) + _chain(8),
    "published centre": [(_node(0, published=True), _node(i), 0.9) for i in range(1, 6)] + _chain(6),
    "published neighbours": [
        (_node(0, published=True), _node(1, published=True), 0.95),
        (_node(1, published=True), _node(2), 0.8),
    ],
    "alternating ranks": [(_node(i), _node(i + 1), 0.7 + (i % 3) / 10) for i in range(0, 60, 1)]
    + [(_node(i), _node(i + 2), 0.71) for i in range(0, 58, 3)],
}


def _sorted(clusters):
    return sorted(clusters, key=lambda c: c[1])


@pytest.mark.parametrize("name", sorted(GRAPHS))
@pytest.mark.parametrize("rounds", [0, 1, 2, 4, 50])
def test_rounds_give_the_sequential_clusters_on_adversarial_graphs(name, rounds):
    edges = GRAPHS[name]
    got, residue = star_clusters_in_rounds(edges, rounds)
    assert _sorted(got) == _sorted(star_clusters(edges))
    if rounds == 50:
        assert residue == 0


def test_rounds_give_the_sequential_clusters_on_random_graphs():
    rng = random.Random(7)
    for trial in range(300):
        n = rng.randrange(2, 40)
        edges = _random_graph(rng, n, rng.randrange(1, min(n * (n - 1) // 2, 3 * n) + 1), ties=trial % 2 == 0)
        for rounds in (0, 1, 3):
            got, _ = star_clusters_in_rounds(edges, rounds)
            assert _sorted(got) == _sorted(star_clusters(edges)), (trial, rounds)


def test_a_long_chain_leaves_a_residue_that_shrinks_with_the_rounds():
    edges = _chain(40)
    residues = [star_clusters_in_rounds(edges, rounds)[1] for rounds in (0, 2, 4, 39)]
    assert residues[0] > residues[1] > residues[2] > residues[3] == 0


def test_the_beam_transform_gives_the_sequential_clusters():
    rng = random.Random(3)
    edges = GRAPHS["chain ranked along it"] + GRAPHS["cliques sharing a node"] + _random_graph(rng, 30, 60, ties=True)
    expected = star_clusters(edges)
    assert expected
    with beam.Pipeline() as p:
        got = p | beam.Create(edges) | StarClusters(rounds=2)
        assert_that(got, equal_to(expected))
