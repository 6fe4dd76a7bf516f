import json
import random
import re
import unicodedata

import numpy as np
import pytest
from datasketch import MinHash
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.dedup_bench import close_pairs_exact, exact_jaccard, planted
from tests.conftest import shared_sample
from transforms.dedup import minhash
from transforms.dedup.exact import keep_first
from transforms.dedup.keys import exact_key, exact_keys, key_record
from transforms.dedup.minhash import (
    _PUNCT,
    MinHashConfig,
    _normal_batch,
    _normal_bytes,
    band_hashes,
    candidate_probability,
    dedup_normal_form,
    estimated_jaccards,
    has_shingles,
    shingle_hash32,
    shingles,
    signatures,
)
from transforms.dedup.near import (
    POSTINGS_PER_GROUP,
    band_pairs,
    band_partitions,
    band_postings,
    either_band,
    found_first,
    star_clusters,
    verify_pairs,
)
from transforms.dedup.nodes import is_published, node_key, node_of

TEXTS = ["the quick brown fox jumps over the lazy dog and keeps running far away",
         "Съешь же ещё этих мягких французских булок, да выпей чаю", "ＡＢＣ  déjà-vu, 東京タワー!",
         "one", "", "  ...  ", "a b", "the quick brown fox jumps over the lazy dog and keeps running far away"]


def test_batched_signatures_match_datasketch_bit_for_bit():
    cfg = MinHashConfig(num_perm=128, seed=7, threshold=0.7)
    sigs = signatures(TEXTS, cfg)
    for text, sig in zip(TEXTS, sigs):
        ref = MinHash(num_perm=128, seed=7, hashfunc=shingle_hash32)
        ref.update_batch(shingles(text, cfg.ngram))
        assert np.array_equal(sig, ref.hashvalues), text
    assert np.array_equal(signatures(TEXTS[::-1], cfg)[::-1], sigs)  # a batch never mixes documents


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from("ab cé,.\t\n東-"), max_size=60), min_size=1, max_size=6),
       st.integers(min_value=1, max_value=6))
def test_signatures_match_datasketch_on_arbitrary_text(texts, ngram):
    cfg = MinHashConfig(ngram=ngram, num_perm=16)
    for text, sig in zip(texts, signatures(texts, cfg)):
        ref = MinHash(num_perm=16, seed=1, hashfunc=shingle_hash32)
        ref.update_batch(shingles(text, ngram))
        assert np.array_equal(sig, ref.hashvalues)


@pytest.mark.parametrize("ngram", [1, 5, 9])
def test_signatures_match_datasketch_on_real_documents_across_groups(ngram, monkeypatch):
    """Every tenth document of the five shared corpora in one batch, cut into groups of about 20k
    characters (a longer document is a group of its own), so group edges fall everywhere."""
    texts = [d["text"] for d in shared_sample(10)]
    monkeypatch.setattr(minhash, "_GROUP_CHARS", 20_000)
    cfg = MinHashConfig(ngram=ngram, num_perm=256, seed=3)
    for text, sig in zip(texts, signatures(texts, cfg)):
        ref = MinHash(num_perm=256, seed=3, hashfunc=shingle_hash32)
        ref.update_batch(shingles(text, ngram))
        assert np.array_equal(sig, ref.hashvalues), text[:80]


@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_ascii_fast_path_equals_the_regex_normal_form(text):
    assert dedup_normal_form(text) == " ".join(_PUNCT.sub(" ", text.lower()).split())


# joined texts must not interact: sigma finality, Hangul jamo and combining marks at a boundary, NFKC to sigma
TRICKY = "aΣσ Σ.\u0301\u0130Ii가가\x00\n\t ,_-１①㈱ﬁ\U0001D6BA\ud800東"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(TRICKY), max_size=12), min_size=1, max_size=5))
def test_batch_normal_form_equals_the_per_text_reference(texts):
    assert _normal_batch(texts).tobytes().replace(b" \n", b"\n") == b"".join(_normal_bytes(t) + b"\n" for t in texts)


def test_batch_normal_form_on_every_code_point():
    every = [chr(c) for c in range(0x110000)]
    texts = ["".join(every[lo:lo + 4096]) for lo in range(0, len(every), 4096)]
    texts += ["x" + "Y".join(every[lo:lo + 4096]) for lo in range(0, len(every), 4096)]  # each one between letters
    assert _normal_batch(texts).tobytes().replace(b" \n", b"\n") == b"".join(_normal_bytes(t) + b"\n" for t in texts)


def _found(nodes, sigs, cfg, partitions=None):
    """band_postings -> GroupByKey -> band_pairs -> the join by node: pair -> bit mask of the bands that found it."""
    groups = {}
    for key, posting in band_postings(nodes, sigs, cfg, partitions):
        groups.setdefault(key, []).append(posting)
    found = {}
    for kv in sorted(groups.items()):
        for pair, band in band_pairs(kv, cfg):
            found[pair] = either_band((found.get(pair, 0), band))
    return found


def _pairs(nodes, sigs, cfg, partitions=None):
    """The candidate pairs as NearDedup verifies them: each found by the first band its documents share."""
    found = _found(nodes, sigs, cfg, partitions)
    row = {n: i for i, n in enumerate(nodes)}
    pairs = list(found)
    first = found_first(sigs[[row[a] for a, _ in pairs]], sigs[[row[b] for _, b in pairs]], list(found.values()), cfg)
    return [pair for pair, ok in zip(pairs, first.tolist()) if ok]


def _nodes(n):
    return [node_key(((1, 0, str(i), str(i)), str(i))) for i in range(n)]


def test_candidate_pairs_do_not_depend_on_the_number_of_band_partitions():
    rng = random.Random(5)
    words = [f"w{i}" for i in range(300)]
    base = [[rng.choice(words) for _ in range(40)] for _ in range(60)]
    texts = [" ".join(b) for b in base] + [" ".join(b[:-1] + ["changed"]) for b in base[:30]]
    cfg = MinHashConfig()
    sigs, nodes = signatures(texts, cfg), _nodes(len(texts))
    pairs = sorted(_pairs(nodes, sigs, cfg))
    assert len(pairs) >= 30
    for partitions in (1, 7, 64):
        assert sorted(_pairs(nodes, sigs, cfg, partitions)) == pairs
    assert band_partitions(1000, cfg) == cfg.partitions and band_partitions(10**6, cfg) == 10**6 // POSTINGS_PER_GROUP


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(), max_size=8))
def test_batched_exact_keys_equal_the_per_text_ones(texts):
    assert exact_keys(texts) == [exact_key(t) for t in texts]
    assert exact_keys(TEXTS) == [exact_key(t) for t in TEXTS]


def test_empty_documents_never_become_candidates():
    cfg = MinHashConfig()
    sigs = signatures(["", "  !! ", "one", "one"], cfg)
    assert list(has_shingles(sigs)) == [False, False, True, True]
    nodes = _nodes(4)
    assert _pairs(nodes, sigs, cfg) == [(nodes[2], nodes[3])]  # one-word twins do collide


def test_each_candidate_pair_comes_once_from_its_first_shared_band():
    cfg = MinHashConfig(partitions=4)
    base = " ".join(f"w{i}" for i in range(300))
    texts = [base, base.replace("w150", "x"), base.replace("w10 ", ""), " ".join(f"v{i}" for i in range(300))]
    nodes = _nodes(4)
    pairs = _pairs(nodes, signatures(texts, cfg), cfg)
    assert sorted(pairs) == [(nodes[0], nodes[1]), (nodes[0], nodes[2]), (nodes[1], nodes[2])]


def test_bands_find_a_pair_of_near_copies_several_times_and_it_counts_once():
    cfg = MinHashConfig()
    base = " ".join(f"w{i}" for i in range(300))
    nodes = _nodes(2)
    sigs = signatures([base, base.replace("w150", "x")], cfg)
    found = _found(nodes, sigs, cfg)
    assert list(found) == [(nodes[0], nodes[1])] and bin(found[nodes[0], nodes[1]]).count("1") > 1
    assert _pairs(nodes, sigs, cfg) == [(nodes[0], nodes[1])]


def test_a_pair_the_fanout_leaves_out_of_its_first_shared_band_is_not_found_by_a_later_one():
    cfg = MinHashConfig(num_perm=4, bands=2, rows=2, bucket_fanout=1)
    a, b, c = _nodes(3)
    # band 0: one bucket of all three (each paired with its one best-ranked member: a-b, a-c); band 1: b, c twins
    sigs = np.array([[1, 1, 5, 6], [1, 1, 7, 7], [1, 1, 7, 7]], dtype=np.uint32)
    assert (b, c) in _found([a, b, c], sigs, cfg)
    assert sorted(_pairs([a, b, c], sigs, cfg)) == [(a, b), (a, c)]


def test_a_large_bucket_pairs_each_member_with_its_best_ranked_members_only():
    cfg = MinHashConfig(bucket_fanout=3)
    nodes = _nodes(6)
    sigs = signatures(["the very same words in every one of these documents"] * 6, cfg)
    pairs = _pairs(nodes[::-1], sigs, cfg)
    assert sorted(pairs) == sorted((nodes[a], nodes[b]) for b in range(1, 6) for a in range(min(b, 3)))


def test_a_node_twice_in_a_large_bucket_is_one_member():
    cfg = MinHashConfig(bucket_fanout=3)
    nodes = _nodes(4)
    sigs = signatures(["the very same words in every one of these documents"] * 5, cfg)
    pairs = _pairs(nodes + [nodes[2]], sigs, cfg)
    assert sorted(pairs) == sorted((nodes[a], nodes[b]) for b in range(1, 4) for a in range(b))


def test_verification_keeps_pairs_at_the_threshold_and_reports_their_jaccard():
    cfg = MinHashConfig(num_perm=4, bands=2, rows=2, threshold=0.5)
    a = np.array([[1, 2, 3, 4], [1, 2, 3, 4]], dtype=np.uint32)
    b = np.array([[1, 2, 0, 0], [1, 0, 0, 0]], dtype=np.uint32)
    assert list(estimated_jaccards(a, b)) == [0.5, 0.25]
    assert verify_pairs([("p", "q"), ("r", "s")], a, b, cfg) == [("p", "q", 0.5)]
    assert (
        len(verify_pairs([("p", "q"), ("r", "s")], a, b, MinHashConfig(num_perm=4, bands=2, rows=2, verify=False))) == 2
    )


def test_bands_rows_follow_datasketch_optimum_and_validate():
    from datasketch import MinHashLSH

    cfg = MinHashConfig(num_perm=128, threshold=0.7, recall_weight=0.5)
    lsh = MinHashLSH(threshold=0.7, num_perm=128)
    assert cfg.bands_rows == (lsh.b, lsh.r)
    assert MinHashConfig().bands_rows == (32, 8)  # recall-weighted default: P(candidate | J=0.8) > 0.99
    assert MinHashConfig(num_perm=128, bands=16, rows=8).bands_rows == (16, 8)
    with pytest.raises(ValueError):
        MinHashConfig(num_perm=64, bands=16, rows=8)
    assert candidate_probability(0.9, *cfg.bands_rows) > candidate_probability(0.5, *cfg.bands_rows)


@pytest.mark.parametrize("num_perm", [16, 64, 128])
def test_exact_quadrature_picks_what_datasketch_picks(num_perm):
    from datasketch.lsh import _optimal_param

    from transforms.dedup.minhash import _optimal_bands_rows

    for threshold in (0.3, 0.5, 0.7, 0.8, 0.9, 0.95):
        for recall_weight in (0.5, 0.9):
            assert _optimal_bands_rows.__wrapped__(threshold, num_perm, recall_weight) == _optimal_param(
                threshold, num_perm, 1 - recall_weight, recall_weight
            ), (threshold, recall_weight)


def test_shingles_normalise_case_punctuation_and_width():
    assert shingles("Hello, WORLD!", 2) == shingles("hello world", 2) == {b"hello world"}
    assert shingles("ＡＢＣ def", 5) == {b"abc def"}  # NFKC folds full-width letters
    assert shingles("  ", 5) == set()


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(TRICKY + "abc ."), max_size=30), st.integers(1, 4))
def test_shingles_are_the_word_ngrams_of_the_exact_jaccard_tool(text, n):
    """shared/data/tools/exact_jaccard.py: NFKC, lower, re.findall(r"\\w+"); fewer than n tokens: one shingle."""
    toks = re.findall(r"\w+", unicodedata.normalize("NFKC", text).lower())
    grams = (
        {tuple(toks[i : i + n]) for i in range(len(toks) - n + 1)}
        if len(toks) >= n
        else ({tuple(toks)} if toks else set())
    )
    assert shingles(text, n) == {" ".join(g).encode("utf-8") for g in grams}


def test_the_benchmark_ground_truth_join_finds_every_close_pair():
    rng = random.Random(5)
    sets = {str(i): {rng.randrange(40) for _ in range(rng.randrange(12))} for i in range(120)}
    brute = sorted((a, b) for a in sets for b in sets if a < b and exact_jaccard(sets[a], sets[b]) >= 0.6)
    assert brute and close_pairs_exact(sets, 0.6) == brute


def test_planted_copies_are_seeded_edits_of_a_third_of_the_corpus():
    docs = [(f"d{i}", " ".join(f"w{i}x{k}" for k in range(50))) for i in range(300)]
    corpus = planted(docs, seed=3)
    assert corpus == planted(docs, seed=3) and corpus[:300] == docs
    copies = corpus[300:]
    assert 60 < len({c.split("~")[0] for c, _ in copies}) < 140
    assert all(c.split("~")[0] in {d for d, _ in docs} for c, _ in copies)


def test_near_duplicates_share_a_band_and_strangers_do_not():
    cfg = MinHashConfig(num_perm=256, threshold=0.7)
    base = " ".join(f"word{i}" for i in range(200))
    near = base.replace("word100", "changed")
    other = " ".join(f"term{i}" for i in range(200))
    k = [set(enumerate(row)) for row in band_hashes(signatures([base, near, other], cfg), cfg)]
    assert k[0] & k[1] and not k[0] & k[2]


def _key(uid, doc_id, source, priorities):
    doc = {"uid": uid, "id": doc_id, "source": source, "text": "same text", "lang": "en", "meta": {}}
    return key_record(doc, priorities, exact_key(doc["text"]), b"")


def test_exact_keep_first_prefers_priority_then_id():
    priorities = {"books": 0, "web": 1}
    keys = [
        _key("u1", "b", "web", priorities),
        _key("u2", "a", "web", priorities),
        _key("u3", "z", "books", priorities),
    ]
    out = list(keep_first(keys))
    kept = [k for t, k in out if t == "kept"]
    assert [k[0][0][2] for k in kept] == ["z"]
    removed = sorted((r for t, r in out if t == "removed"), key=lambda r: r["id"])
    assert [(r["id"], r["uid"], r["source"], r["lang"], r["stage"]) for r in removed] == [
        ("a", "u2", "web", "en", "dedup-exact"), ("b", "u1", "web", "en", "dedup-exact")]
    assert json.loads(removed[0]["details"]) == {"duplicate_of": "z", "duplicate_of_uid": "u3"}
    assert exact_key("Hello,   World") == exact_key("hello world!")


def _node(name, published=False):
    return node_key(((0 if published else 1, 0, name, "u" + name), "u" + name))


def test_a_chain_keeps_both_ends_and_removes_only_verified_duplicates_of_kept_documents():
    a, b, c, d = map(_node, "abcd")
    removed = {node_of(node)[1]: (kept, j) for kept, node, j in star_clusters([(a, b, 0.8), (b, c, 0.8)])}
    assert removed == {"ub": (a, 0.8)}  # A~B, B~C, A!~C: A and C kept
    closed = star_clusters([(a, b, 0.8), (b, c, 0.8), (a, c, 0.75), (c, d, 0.7)])
    # C~A verified: removed; D~C only: kept
    assert {node_of(node)[1]: kept for kept, node, _ in closed} == {"ub": a, "uc": a}


def test_a_removed_document_points_to_its_most_similar_kept_neighbour():
    a, b, c = map(_node, "abc")  # B is removed by A, but C (kept: not near A) is closer to B
    assert star_clusters([(a, b, 0.72), (b, c, 0.85)]) == [(c, b, 0.85)]


def test_published_documents_win_and_are_never_removed():
    old, other_old = _node("z", published=True), _node("y", published=True)
    new = _node("a")
    assert star_clusters([(new, old, 0.9), (old, other_old, 0.95)]) == [(old, new, 0.9)]


def test_clusters_do_not_depend_on_edge_order_or_orientation():
    nodes = [node_key(((1, i % 3, f"id{i}", f"u{i}"), f"u{i}")) for i in range(30)]
    edges = [(nodes[i], nodes[i + 1], 0.7 + i / 100) for i in range(0, 29, 2)] + [(nodes[1], nodes[2], 0.9)]
    edges += [(nodes[i], nodes[i + 3], 0.8) for i in range(0, 27, 5)]
    forward = star_clusters(edges)
    assert forward and forward == star_clusters([(b, a, j) for a, b, j in reversed(edges)])


_texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]) | st.sampled_from("\x00\x01\xff"))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(-(2 ** 70), 2 ** 70), _texts, _texts), min_size=2, max_size=6))
def test_node_keys_sort_as_the_nodes_and_decode_back(ranks):
    nodes = [(rank, rank[3]) for rank in ranks]
    keys = [node_key(n) for n in nodes]
    assert sorted(range(len(nodes)), key=nodes.__getitem__) == sorted(range(len(keys)), key=keys.__getitem__)
    assert [node_of(k) for k in keys] == nodes
    assert [is_published(k) for k in keys] == [n[0][0] == 0 for n in nodes]
