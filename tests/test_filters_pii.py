import json

import pyarrow as pa
import pytest

from transforms.filters.config import FilterParams, load_filter_config
from transforms.filters.scores import count_words, filter_document, keep_document, score_document
from transforms.pii import redact

CFG = load_filter_config()
EN = ("The committee will publish its final report next month, after the members have reviewed "
      "every comment that was sent to them during the consultation period this spring.")
RU = ("Комитет опубликует свой окончательный доклад в следующем месяце, после того как члены "
      "комитета рассмотрят все замечания, которые были присланы им во время консультаций этой весной.")
AR = ("ستنشر اللجنة تقريرها النهائي في الشهر المقبل بعد أن يراجع الأعضاء كل التعليقات التي أرسلت "
      "إليهم خلال فترة المشاورات في هذا الربيع وقد تم تحديد موعد الاجتماع القادم في مقر اللجنة")
ZH = "委员会将于下个月发布最终报告，届时成员们将审阅在今年春季咨询期间收到的所有意见和建议。"


def _doc(text, lang, source="s", score=0.95):
    return {"id": "d", "uid": "u", "text": text, "source": source, "lang": lang, "lang_score": score, "meta": {}}


def _fail(text, lang, score=0.95, source="s"):
    _, failure, _ = filter_document(_doc(text, lang, source, score), CFG.params_for(lang, source))
    return failure


def test_words_counted_per_character_in_scripts_without_spaces():
    assert count_words("the quick brown fox") == 4
    assert count_words("委员会将于下个月发布") == 10
    assert count_words("東京 Tower に行く") == 6


@pytest.mark.parametrize("text,lang", [(EN, "en"), (RU, "ru"), (AR, "ar"), (ZH, "zh")])
def test_well_formed_text_passes_in_four_scripts(text, lang):
    assert _fail(text, lang) is None


def test_each_filter_fails_on_real_junk():
    assert _fail("Click here to subscribe", "en").name == "min_words"
    assert _fail("hahahahaha " * 60 + EN, "en").name == "max_char_repetition"
    assert (
        _fail(" ".join(["Скидки на все товары только сегодня в нашем магазине"] * 6 + [RU]), "ru").name
        == "max_word_repetition"
    )
    symbols = " ".join(chr(0x2600 + i) * 2 for i in range(120))  # 120 distinct symbols from Miscellaneous Symbols
    assert _fail(EN + " " + symbols, "en").name == "max_special_char_ratio"
    minified = (
        '!function(e,t){"use strict";"object"==typeof module&&"object"=='
        'typeof module.exports?module.exports=e.document}'
        * 3
    )
    assert _fail(minified + " " + EN, "en").name == "max_long_token_ratio"
    nostop = ("Kernel module loader daemon configuration parser network interface bridge firewall routing table "
              "entries socket buffer allocator scheduler timer interrupt handler driver registry cache")
    assert _fail(nostop, "en").name == "min_stopword_ratio"
    assert _fail(EN + " fuck shit fuck shit", "en").name == "max_flagged_word_ratio"
    assert _fail(EN, "en", score=0.1).name == "min_lang_score"
    assert _fail(AR, "ar", score=0.1) == ("min_lang_score", 0.1, 0.2)
    assert _fail(ZH + "他妈的" * 3, "zh").name == "max_flagged_word_ratio"


def test_scores_stored_for_rethresholding_and_missing_lists_are_skipped():
    doc, failure, skipped = filter_document(_doc(EN, "en"), CFG.params_for("en", "s"))
    scores = doc["meta"]["filter_scores"]
    assert failure is None and skipped == [] and scores["words"] == count_words(EN)
    assert keep_document(scores, FilterParams(min_words=100)).name == "min_words"
    _, _, skipped = filter_document(
        _doc("Ny zavatra rehetra dia mila fotoana sy faharetana mba hahatongavana amin'ny tanjona", "mg"),
        CFG.params_for("mg", "s"),
    )
    assert skipped == ["max_flagged_word_ratio"]  # stopwords-iso has no Malagasy list; glin-profanity neither


def test_language_fallback_and_overrides(tmp_path):
    assert CFG.params_for("xx", "s") == CFG.default
    assert CFG.params_for("en", "s").min_words == 20 and CFG.params_for("fr", "s").min_words == 13
    override = tmp_path / "f.yaml"
    override.write_text(
        "languages:\n  en: {min_words: 3}\nsources:\n  tiny: {min_words: 1, languages: {fr: {min_words: 2}}}\n"
    )
    cfg = load_filter_config(str(override))
    assert cfg.params_for("en", "s").min_words == 3 and cfg.params_for("en", "tiny").min_words == 1
    assert cfg.params_for("fr", "tiny").min_words == 2 and cfg.params_for("fr", "s").min_words == 13
    assert cfg.version.startswith("filters-bigscience-v1.2+override-") and cfg.describe()["override_file"]["sha256"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("default: {min_wordz: 3}\n")
    with pytest.raises(ValueError, match="min_wordz"):
        load_filter_config(str(bad))


def test_perplexity_needs_kenlm(tmp_path):
    kenlm = pytest.importorskip("kenlm", reason="kenlm not installed (no wheel; optional)")
    arpa = tmp_path / "m.arpa"
    arpa.write_text("\\data\\\nngram 1=4\nngram 2=3\n\n\\1-grams:\n-2.0\t<unk>\t0\n-99\t<s>\t-0.3\n-1.0\t</s>\t0\n"
                    "-0.3\tthe\t-0.3\n\n\\2-grams:\n-0.2\t<s> the\n-0.2\tthe the\n-0.5\tthe </s>\n\n\\end\\\n")
    params = FilterParams(kenlm_model=str(arpa), max_perplexity=10.0)
    assert (
        kenlm
        and score_document("the the the", "en", params)["perplexity"]
        < score_document("zebra quartz", "en", params)["perplexity"]
    )


def test_pii_emails_ips_phones_keys():
    text, counts = redact("Write to jean.dupont@example.fr or ssh 192.168.1.20, v6 2001:db8::8a2e:370:7334, "
                          "call +44 20 7946 0958. key AKIAIOSFODNN7EXAMPLE, token ghp_" + "a" * 36 + ", "
                          "xoxb-123456789012-abcdefghij, sk-proj-abcdefghijklmnopqrstuvwx, "
                          "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U")
    assert text == ("Write to <EMAIL> or ssh <IP_ADDRESS>, v6 <IP_ADDRESS>, call <PHONE>. key <KEY>, token <KEY>, "
                    "<KEY>, <KEY>, <KEY>")
    assert counts == {"email": 1, "ip_address": 2, "phone": 1, "key": 5}


def test_pii_leaves_lookalikes_alone():
    for s in ["release 1.2.3.4.5 is out", "not an ip 10.0.0.256", "meet at 12:30:45", "version 2.0.1",
              "on 2023-01-11", "ISBN 978-3-16-148410-0", "ISBN 0-306-40615-2", "see https://medium.com/@name"]:
        assert redact(s) == (s, {})


def test_pii_email_in_non_latin_text_and_urls_with_at():
    text, counts = redact("почта: иван@пример.рф, 電郵 user@例子.中国")
    assert counts["email"] == 2 and "иван" not in text
    assert redact("https://user@example.com/x https://bob:hunter2@example.com/")[0] == \
        "https://<EMAIL>/x https://<KEY>@example.com/"


def test_pipeline_counts_drops_and_keeps_redacted_audit_sample(tmp_path):
    from pipelines.curate import run

    rows = [{"id": f"ok-{i}", "text": f"{EN} Entry number {i} of the list."} for i in range(3)]
    rows += [
        {"id": "short", "text": "Click here now"},
        {"id": "rep", "text": "spam " * 300 + "write to a.b@example.com"},
    ]
    src = tmp_path / "web.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    over = tmp_path / "f.yaml"
    over.write_text("sources:\n  web: {min_words: 4}\n")
    ref, manifest = run(
        [
            "--input",
            str(src),
            "--lake",
            str(tmp_path / "lake"),
            "--dataset",
            "t",
            "--filter-config",
            str(over),
            "--disable",
            "dedup-near,dedup-exact",
            "--filter-audit-k",
            "1",
        ]
    )
    assert manifest["counts"]["filtered"] == {"max_char_repetition": 1, "min_words": 1}
    assert manifest["filter"]["by_source"] == {"web": {"max_char_repetition": 1, "min_words": 1}}
    assert sum(sum(v.values()) for v in manifest["filter"]["by_language"].values()) == 2
    assert manifest["stages"]["filter"]["version"].startswith("filters-bigscience-v1.2+override-")
    audit = pa.ipc.open_file(str(ref.path / "audit" / "filtered-sample.arrow")).read_all().to_pylist()
    assert sorted(r["filter"] for r in audit) == ["max_char_repetition", "min_words"]
    assert all("a.b@example.com" not in r["text"] for r in audit) and any("<EMAIL>" in r["text"] for r in audit)


def test_phone_prefilter_finds_what_the_whole_text_matcher_finds():
    """Only candidate spans go to libphonenumber; that must not change what it finds."""
    import phonenumbers

    from transforms.pii import PHONE_REGION, redact

    texts = ["Call +1 650-253-0000 ext. 123 today", "Office: (650) 253-0000, fax +44 20 7946 0958.",
             "ISBN 978-3-16-148410-0 printed 2023-11-26", "Zürich +41 44 668 18 00; Paris +33 1 42 68 53 00",
             "version 10.2.3.4567 build 20231126", "電話 +81 3-1234-5678 まで"]
    for text in texts:
        whole = [m.raw_string for m in phonenumbers.PhoneNumberMatcher(text, PHONE_REGION,
                                                                         leniency=phonenumbers.Leniency.VALID)]
        redacted, counts = redact(text)
        assert counts.get("phone", 0) == len(whole), text
        assert not any(raw in redacted for raw in whole)
