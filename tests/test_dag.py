"""docs/dag.svg is what ``python -m pipelines.dag`` draws from the pipeline curate.py builds."""
from __future__ import annotations

import pytest

from pipelines.dag import Node, render_svg, stage_nodes
from tests.conftest import REPO


@pytest.fixture(scope="module")
def nodes() -> list[Node]:
    return stage_nodes()


def test_the_committed_picture_is_the_generated_one(nodes):
    committed = (REPO / "docs" / "dag.svg").read_text(encoding="utf-8")
    assert committed == render_svg(nodes), "regenerate it: python -m pipelines.dag --svg docs/dag.svg"


def test_the_picture_follows_the_stages_in_the_order_they_are_applied(nodes):
    titles = [node.title for node in nodes]
    assert titles[:3] == ["read", "normalise", "boilerplate lines"]
    assert titles.index("language id") < titles.index("quality filters") < titles.index("PII redaction")
    assert titles.index("exact dedup") < titles.index("near dedup") < titles.index("write shards")
    assert titles[-3:] == ["commit v<N>", "catalog", "training stream"]
    assert {node.title for node in nodes if node.optional} == {"boilerplate lines"}  # the one stage off by default
    assert {node.title for node in nodes if node.removes} == {
        "read", "normalise", "boilerplate lines", "quality filters", "exact dedup", "near dedup"}
