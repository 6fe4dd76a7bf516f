"""Greedy star clustering in rounds, so that no step gathers the corpus's edges in one worker.

The sequential rule (``transforms.dedup.star_clusters``): documents are walked in rank order and a
new document is removed when it has a verified edge to a better-ranked document that was kept.
A document's fate depends only on its better-ranked neighbours, so it can be decided as soon as one
of them is known to be kept (removed) or all of them are known to be removed (kept; so is a
document without better neighbours, and a published one, always). Each round, every document
still undecided meets the statuses its better neighbours announced in the round before (one
GroupByKey by node) and decides if it can; a decided document announces its status to its
worse-ranked neighbours. Chains of near duplicates ranked along the chain need one round per link,
so after ``rounds`` rounds the undecided rest (and the announcements on their way to it) is
resolved by the sequential rule in one group: the residue, empty when every dependency chain is
shorter than the rounds. Finally every kept document tells each neighbour, and a removed document
points to its most similar kept neighbour (highest Jaccard, then best rank), exactly as
``star_clusters`` chooses.

Nodes are node keys (``transforms.dedup.nodes``): bytes that compare in rank order.

Memory bounds: a node group holds one document's neighbours (its verified edges) and the statuses
sent to it; the pointer group the same; the residue group holds the documents undecided after
``rounds`` rounds with their edges, which is empty unless near duplicates form dependency chains of
more than ``rounds`` links (it is reported by the scale benchmark, ``benchmarks/dedup_scale``).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam

from transforms.dedup.nodes import NodeKey, is_published

Node = NodeKey  # a node key (``transforms.dedup.nodes``): it sorts in rank order
KEPT, REMOVED = True, False
DEFAULT_ROUNDS = 4
State = tuple[Node, tuple[tuple[Node, float], ...], dict]  # node, its neighbours with Jaccard, statuses heard


def adjacency(edge: tuple[Node, Node, float]) -> list[tuple[Node, tuple[Node, float]]]:
    """Both ends' view of one verified edge: (node, (neighbour, Jaccard))."""
    a, b, j = edge
    return [(a, (b, j)), (b, (a, j))]


def initial_state(node: Node, neighbours: Iterable[tuple[Node, float]]) -> State:
    return node, tuple(sorted(neighbours)), {}


def decide(state: State) -> bool | None:
    """KEPT, REMOVED, or None while a better neighbour's status is still unknown."""
    node, neighbours, heard = state
    if is_published(node):
        return KEPT  # published documents are never removed
    waiting = False
    for other, _ in neighbours:
        if other < node:
            status = heard.get(other)
            if status is KEPT:
                return REMOVED
            waiting = waiting or status is None
    return None if waiting else KEPT


def announce(state: State, status: bool) -> Iterator[tuple[Node, tuple[Node, bool]]]:
    """A decided document's status, sent to its worse-ranked neighbours (the ones it can decide)."""
    node, neighbours, _ = state
    for other, _ in neighbours:
        if node < other:
            yield other, (node, status)


def hear(state: State, heard: Iterable[tuple[Node, bool]]) -> State:
    node, neighbours, known = state
    return node, neighbours, {**known, **dict(heard)}


def step(state: State) -> Iterator[tuple[str, Any]]:
    """One round for one undecided document (its messages heard): ("decided", (state, status)) and its
    announcements, or ("state", state) to wait for the next round."""
    status = decide(state)
    if status is None:
        yield "state", state
        return
    yield "decided", (state, status)
    for message in announce(state, status):
        yield "message", message


def resolve_residue(states: Iterable[State]) -> list[tuple[State, bool]]:
    """The sequential rule on what the rounds left undecided (their messages heard): in rank order, each
    decides from what it heard and from the residue documents decided before it (every better
    neighbour is one or the other)."""
    decided: dict[Node, bool] = {}
    out = []
    for node, neighbours, known in sorted(states, key=lambda s: s[0]):
        state = (node, neighbours, {**known, **{o: decided[o] for o, _ in neighbours if o in decided}})
        status = decide(state)
        if status is None:
            raise RuntimeError(f"star clustering: {node[1]} has a better neighbour nobody decided")
        decided[node] = status
        out.append((state, status))
    return out


def tell_neighbours(decision: tuple[State, bool]) -> Iterator[tuple[Node, Any]]:
    """A kept document tells every neighbour (neighbour, (itself, Jaccard)); a removed one marks itself."""
    (node, neighbours, _), status = decision
    if status is KEPT:
        for other, j in neighbours:
            yield other, (node, j)
    else:
        yield node, None


def pointer(node: Node, told: Iterable[tuple[Node, float] | None]) -> list[tuple[Node, Node, float]]:
    """(kept, removed, Jaccard) for a removed document: its most similar kept neighbour, then best rank."""
    told = list(told)
    if None not in told:
        return []  # a kept document
    kept, j = min((t for t in told if t is not None), key=lambda t: (-t[1], t[0]))
    return [(kept, node, j)]


def star_clusters_in_rounds(edges: Iterable[tuple[Node, Node, float]], rounds: int = DEFAULT_ROUNDS,
                            ) -> tuple[list[tuple[Node, Node, float]], int]:
    """The Beam transform's steps with its shuffles replaced by dicts: ((kept, removed, Jaccard) for every
    removed document, the residue's size). Equal to ``star_clusters`` for any ``rounds``; tests check it."""
    by_node: dict[Node, list] = {}
    for edge in edges:
        for node, neighbour in adjacency(edge):
            by_node.setdefault(node, []).append(neighbour)
    states = [initial_state(n, ns) for n, ns in by_node.items()]
    decisions: list[tuple[State, bool]] = []
    messages: list[tuple[Node, tuple[Node, bool]]] = []

    def meet(states, messages):  # the GroupByKey by node: each undecided document with what was sent to it
        inbox: dict[Node, list] = {}
        for to, message in messages:
            inbox.setdefault(to, []).append(message)
        return [hear(s, inbox.get(s[0], [])) for s in states]

    for _ in range(rounds + 1):  # round 0 decides from the edges alone
        undecided: list[State] = []
        sent: list[Any] = []
        outbox: dict[str, list[Any]] = {"state": undecided, "decided": decisions, "message": sent}
        for state in meet(states, messages):
            for tag, value in step(state):
                outbox[tag].append(value)
        states, messages = undecided, sent
    residue = meet(states, messages)
    decisions += resolve_residue(residue)
    told: dict[Node, list] = {}
    for decision in decisions:
        for node, value in tell_neighbours(decision):
            told.setdefault(node, []).append(value)
    return [p for node, values in told.items() for p in pointer(node, values)], len(residue)


def _round_outputs(state: State) -> Iterator[Any]:
    """``step`` as one ParDo's outputs: ``next`` (the state and the announcements, keyed by the node they
    go to, for the next round's GroupByKey) and ``told`` (a decided document's ``tell_neighbours``)."""
    for tag, value in step(state):
        if tag == "state":
            yield beam.pvalue.TaggedOutput("next", (value[0], value))
        elif tag == "message":
            yield beam.pvalue.TaggedOutput("next", (value[0], value[1]))
        else:
            for told in tell_neighbours(value):
                yield beam.pvalue.TaggedOutput("told", told)


def _heard(kv: tuple[Node, Iterable[Any]]) -> list[State]:
    """A node's group of the round's GroupByKey -> its state with what it heard; nothing for a decided
    node (announcements to it are moot). A state has three parts, an announcement two."""
    _, values = kv
    states: list[State] = []
    heard: list[Any] = []
    for v in values:
        (states if len(v) == 3 else heard).append(v)
    return [hear(s, heard) for s in states]


class StarClusters(beam.PTransform):
    """verified edges (a, b, Jaccard) -> (kept, removed, Jaccard) per removed document, in ``rounds``
    rounds of one GroupByKey by node each, then the residue, then one GroupByKey for the pointers.

    Each round is one GroupByKey and one ParDo (hear, decide, announce, tell), so the rounds add few
    steps to the pipeline."""

    def __init__(self, rounds: int = DEFAULT_ROUNDS):
        super().__init__()
        self.rounds = rounds

    def expand(self, edges):
        grouped = (edges
                   | "Adjacency" >> beam.FlatMap(adjacency)
                   | "ByNode" >> beam.GroupByKey())
        told = []
        for k in range(self.rounds + 1):
            if k == 0:  # round 0 decides from the edges alone
                out = grouped | "Step0" >> beam.FlatMap(
                    lambda kv: _round_outputs(initial_state(*kv))).with_outputs("next", "told")
            else:
                out = (grouped
                       | f"Step{k}" >> beam.FlatMap(
                    lambda kv: (o for s in _heard(kv) for o in _round_outputs(s))).with_outputs("next", "told"))
            told.append(out.told)
            grouped = out.next | f"MeetRound{k + 1}" >> beam.GroupByKey()
        residue = (grouped
                   | "OneKey" >> beam.FlatMap(lambda kv: [(None, s) for s in _heard(kv)])
                   | "GatherResidue" >> beam.GroupByKey()
                   | "ResolveResidue" >> beam.FlatMap(lambda kv: (t for d in resolve_residue(kv[1])
                                                                   for t in tell_neighbours(d))))
        return ((*told, residue)
                | "AllTold" >> beam.Flatten()
                | "ByRemoved" >> beam.GroupByKey()
                | "Pointers" >> beam.FlatMapTuple(pointer))

