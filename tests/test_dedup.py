import numpy as np
import pytest
from datasketch import MinHash

from transforms.dedup import connected_components, exact_key, keep_first, star_edges
from transforms.minhash import MinHashConfig, band_keys, candidate_probability, shingles, signature


def test_signatures_match_datasketch_bit_for_bit():
    cfg = MinHashConfig(num_perm=128, seed=7, threshold=0.7)
    for text in ["the quick brown fox jumps over the lazy dog and keeps running far away",
                 "Съешь же ещё этих мягких французских булок, да выпей чаю",
                 "one", ""]:
        sh = shingles(text, cfg.ngram)
        ref = MinHash(num_perm=128, seed=7)
        ref.update_batch(sh)
        assert np.array_equal(signature(sh, cfg), ref.hashvalues)


def test_bands_rows_follow_datasketch_optimum_and_validate():
    from datasketch import MinHashLSH

    cfg = MinHashConfig(num_perm=128, threshold=0.7)
    lsh = MinHashLSH(threshold=0.7, num_perm=128)
    assert cfg.bands_rows == (lsh.b, lsh.r)
    assert MinHashConfig(num_perm=128, bands=16, rows=8).bands_rows == (16, 8)
    with pytest.raises(ValueError):
        MinHashConfig(num_perm=64, bands=16, rows=8)
    assert candidate_probability(0.9, *cfg.bands_rows) > candidate_probability(0.5, *cfg.bands_rows)


def test_shingles_normalise_case_punctuation_and_width():
    assert shingles("Hello, WORLD!", 2) == shingles("hello world", 2) == {b"hello world"}
    assert shingles("ＡＢＣ def", 5) == {b"abc def"}  # NFKC folds full-width letters
    assert shingles("  ", 5) == set()


def test_near_duplicates_share_a_band_and_strangers_do_not():
    cfg = MinHashConfig(num_perm=256, threshold=0.7)
    base = " ".join(f"word{i}" for i in range(200))
    near = base.replace("word100", "changed")
    other = " ".join(f"term{i}" for i in range(200))
    k = [set(band_keys(signature(shingles(t, 5), cfg), cfg)) for t in (base, near, other)]
    assert k[0] & k[1] and not k[0] & k[2]


def _doc(uid, doc_id, source="s", text="same text"):
    return {"uid": uid, "id": doc_id, "source": source, "text": text, "lang": "en", "meta": {}}


def test_exact_keep_first_prefers_priority_then_id():
    docs = [_doc("u1", "b", "web"), _doc("u2", "a", "web"), _doc("u3", "z", "books")]
    out = list(keep_first(docs, {"books": 0, "web": 1}))
    kept = [d for t, d in out if t == "kept"]
    assert [d["id"] for d in kept] == ["z"]
    assert sorted(r["id"] for t, r in out if t == "removed") == ["a", "b"]
    assert exact_key("Hello,   World") == exact_key("hello world!")


def test_components_chain_and_keep_the_best_ranked():
    a, b, c, d = [((0, n, "u" + n), "u" + n) for n in "abcd"]
    edges = list(star_edges([b, a])) + list(star_edges([c, b])) + list(star_edges([d]))
    removed = dict(connected_components(edges))
    assert set(removed) == {"ub", "uc"}  # A~B, B~C: one cluster, A kept
    assert all(info["duplicate_of"] == "a" for info in removed.values())


def test_components_do_not_depend_on_edge_order():
    nodes = [((i % 3, f"id{i}", f"u{i}"), f"u{i}") for i in range(30)]
    edges = [(nodes[i], nodes[i + 1]) for i in range(0, 29, 2)] + [(nodes[1], nodes[2])]
    fwd = dict(connected_components(edges))
    rev = dict(connected_components([(b, a) for a, b in reversed(edges)]))
    assert fwd == rev
