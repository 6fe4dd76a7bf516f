import json

import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

from transforms.langcodes import parse_label
from transforms.langid import (LANGID_VERSION, IdentifyLanguage, LangIdConfig, LanguageIdentifier, apply_prediction,
                               ask_cld2, confirmed_runner_up, hinted_language, needs_second_opinion, parse_thresholds)
from transforms.scripts import _COL, dominant_script


@pytest.fixture(scope="module")
def lid():
    return LanguageIdentifier()


SNIPPETS = {  # expected code -> (text, dominant script)
    "en": ("The committee will publish its final report on the state of the railways next month.", "Latn"),
    "fr": ("Le comité publiera le mois prochain son rapport final sur l'état des chemins de fer.", "Latn"),
    "ru": ("Комитет опубликует свой окончательный доклад о состоянии железных дорог в следующем месяце.", "Cyrl"),
    "ar": ("ستنشر اللجنة تقريرها النهائي عن حالة السكك الحديدية في الشهر المقبل.", "Arab"),
    "zh": ("委员会将于下个月发布关于铁路状况的最终报告。", "Hani"),
    "ja": ("委員会は来月、鉄道の状況に関する最終報告書を発表する予定です。", "Jpan"),
    "ko": ("위원회는 다음 달 철도 상황에 관한 최종 보고서를 발표할 예정입니다.", "Hang"),
    "el": ("Η επιτροπή θα δημοσιεύσει την τελική της έκθεση για την κατάσταση των σιδηροδρόμων τον επόμενο μήνα.", "Grek"),
    "he": ("הוועדה תפרסם בחודש הבא את הדוח הסופי שלה על מצב מסילות הברזל.", "Hebr"),
    "hi": ("समिति अगले महीने रेलवे की स्थिति पर अपनी अंतिम रिपोर्ट प्रकाशित करेगी।", "Deva"),
    "th": ("คณะกรรมการจะเผยแพร่รายงานฉบับสุดท้ายเกี่ยวกับสภาพของการรถไฟในเดือนหน้า", "Thai"),
    "ceb": ("Ang komite magpatik sa iyang katapusang taho bahin sa kahimtang sa mga riles sa sunod nga bulan.", "Latn"),
}

# A Song-dynasty poem (debian fortunes-zh, song100): Han only, no kana; lid.176 says ja 0.80, zh 0.19.
HAN_POEM = ("题目:《雨晴》\n作者:陈与义（１０９０－１１３８）\n天缺西南江面清，纤云不动小滩横。\n墙头语鹊衣犹湿，楼外残雷气未平。\n"
            "尽取微凉供稳睡，急搜奇句报新晴。\n今宵绝胜无人共，卧看星河尽意明。")


def test_scripts_and_three_letter_codes(lid):
    preds = lid.predict([text for text, _ in SNIPPETS.values()])
    assert {code: p.lang for code, p in zip(SNIPPETS, preds)} == {code: code for code in SNIPPETS}
    assert {code: p.script for code, p in zip(SNIPPETS, preds)} == {code: s for code, (_, s) in SNIPPETS.items()}
    assert all(0.0 < p.score <= 1.0 and len(p.alternatives) == 3 for p in preds)


def test_three_letter_codes_survive_into_the_document(lid):
    [pred] = lid.predict([SNIPPETS["ceb"][0]])
    doc = apply_prediction({"id": "1", "text": SNIPPETS["ceb"][0], "meta": {"source_field": 1}}, pred)
    assert doc["lang"] == "ceb" and doc["meta"]["lang_alternatives"][0][0] == "ceb"
    assert doc["meta"]["lang_script"] == "Latn" and doc["meta"]["source_field"] == 1


def test_han_without_kana_is_not_japanese():
    raw = LanguageIdentifier(LangIdConfig(script_check=False))
    [before] = raw.predict([HAN_POEM])
    assert before.lang == "ja"  # the model's own answer
    [after] = LanguageIdentifier().predict([HAN_POEM])
    assert after.lang == "zh" and after.script == "Hani"
    assert after.score == pytest.approx(0.1942 / (0.1942 + 0.0024), abs=0.05)  # renormalised over Han labels


def test_short_texts(lid):
    preds = lid.predict(["Bonjour tout le monde", "Danke schön!", "안녕하세요", "こんにちは", "สวัสดีครับ", "שלום"])
    assert [p.lang for p in preds] == ["fr", "de", "ko", "ja", "th", "he"]


def test_code_mixed_man_page_keeps_its_main_language(lid):
    text = ("Käyttö: ls [VALITSIN]... [TIEDOSTO]...\nLuettelee tiedostojen tiedot (oletuksena nykyisestä hakemistosta).\n"
            "  -a, --all  do not ignore entries starting with .\n  -l  use a long listing format\n"
            "Järjestää tiedot aakkosjärjestykseen, jos mitään valitsimista -cftuvSUX tai --sort ei ole annettu.")
    [p] = lid.predict([text])
    assert p.lang == "fi"


def test_multiline_text_is_predicted_whole(lid):
    [p] = lid.predict(["Première ligne du document.\nDeuxième ligne, toujours en français.\n"])
    assert p.lang == "fr"


def test_texts_without_letters_are_undetermined(lid):
    preds = lid.predict(["", "   \n\t ", "1234 5678 9012 3456", "== 42 -- 3.14 (7) [017] ++ $$ ~/1"])
    assert [(p.lang, p.score, p.script) for p in preds] == [("und", 0.0, "Zyyy")] * 4


def test_numbers_and_code_around_prose_do_not_hide_it(lid):
    [p] = lid.predict(["Version 2.4.1 (2023-05-17) : correction de 12 erreurs dans le fichier ~/.config/app.ini "
                       "et amélioration de la vitesse de 35 %."])
    assert p.lang == "fr"


def test_certain_predictions_with_fewer_than_k_labels(lid):
    """fastText drops alternatives whose probability underflows to 0: rows come back short."""
    text = ("下人は、剥ぎとった桧肌色の着物をわきにかかえて、またたく間に急な梯子を夜の底へかけ下りた。" * 8)
    [p, q] = lid.predict([text, SNIPPETS["fr"][0]])
    assert p.lang == "ja" and 1 <= len(p.alternatives) <= 3 and q.lang == "fr"


def test_empty_batch(lid):
    assert lid.predict([]) == []


def test_per_language_threshold_sends_doubtful_docs_to_und():
    strict = LanguageIdentifier(LangIdConfig(thresholds={"fr": 0.9999}))
    [fr, en] = strict.predict([SNIPPETS["fr"][0], SNIPPETS["en"][0]])
    assert fr.lang == "und" and fr.alternatives[0][0] == "fr"
    assert en.lang == "en"


def test_parse_thresholds(tmp_path):
    assert parse_thresholds("en=0.6, zh=0.4") == {"en": 0.6, "zh": 0.4}
    assert parse_thresholds(None) == {}
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"ceb": 0.3}))
    assert parse_thresholds(str(path)) == {"ceb": 0.3}
    with pytest.raises(ValueError):
        parse_thresholds("en=1.5")


IRISH = "Sioc tús oíche dhíol Fionn na bróga; Sioc deireadh oíche cheannaigh sé arís iad."


def test_second_opinion_rescues_short_irish_that_lid176_calls_spanish(lid):
    raw = LanguageIdentifier(LangIdConfig(second_opinion=False)).predict([IRISH])[0]
    assert raw.lang == "es" and raw.score < 0.5 and "ga" in [l for l, _ in raw.alternatives]  # lid.176.ftz alone
    pred = lid.predict([IRISH])[0]
    assert pred.lang == "ga" and pred.score >= 0.8 and pred.alternatives == raw.alternatives


MALAY = "Tidak dapat membuka fail konfigurasi. Sila semak kebenaran fail dan cuba lagi."
INDONESIAN = "Pilih fail untuk dimuat naik ke pelayan"


def test_second_opinion_tells_malay_from_indonesian(lid):
    raw = LanguageIdentifier(LangIdConfig(second_opinion=False)).predict([MALAY, INDONESIAN])
    assert [p.lang for p in raw] == ["id", "id"]  # lid.176.ftz alone: Malay read as Indonesian
    assert [p.lang for p in lid.predict([MALAY, INDONESIAN])] == ["ms", "id"]  # CLD2 says id for the second


def test_second_opinion_is_asked_only_when_lid176_is_unsure_of_its_own_first_choice():
    config = LangIdConfig()
    unsure = [("es", 0.36), ("ca", 0.26), ("ga", 0.18)]
    assert needs_second_opinion(unsure, "es", config)
    assert not needs_second_opinion([("es", 0.9), ("ga", 0.05)], "es", config)  # lid.176 is sure
    assert not needs_second_opinion(unsure, "ca", config)  # the script check already moved it
    assert not needs_second_opinion(unsure, "und", config)  # below its threshold: stays und
    assert not needs_second_opinion([("es", 0.36)], "es", config)  # no runner-up to pick
    assert not needs_second_opinion(unsure, "es", LangIdConfig(second_opinion=False))


def test_second_opinion_only_picks_a_runner_up_in_the_texts_script():
    ranked, latin = [("es", 0.36), ("ca", 0.26), ("ga", 0.18), ("pt", 0.05), ("gl", 0.04), ("it", 0.03)], [0.0] * 40
    latin[_COL["Latn"]] = 1.0
    config = LangIdConfig()
    assert confirmed_runner_up(ranked, latin, ("ga", 0.98, True), config) == ("ga", 0.98)
    assert confirmed_runner_up(ranked, latin, ("gl", 0.98, True), config) == ("gl", 0.98)  # rank 5
    assert confirmed_runner_up(ranked, latin, ("it", 0.98, True), config) is None  # rank 6: too far down
    assert confirmed_runner_up(ranked, latin, ("ga", 0.98, False), config) is None  # not reliable
    assert confirmed_runner_up(ranked, latin, ("ga", 0.6, True), config) is None  # CLD2 covers too little text
    assert confirmed_runner_up(ranked, latin, ("es", 0.98, True), config) is None  # agrees: nothing changes
    assert confirmed_runner_up(ranked, latin, ("fr", 0.98, True), config) is None  # not among lid.176's candidates
    assert confirmed_runner_up([("he", 0.4), ("yi", 0.3)], latin, ("yi", 0.9, True), config) is None  # wrong script
    assert confirmed_runner_up([("ar", 0.4), ("he", 0.3)], latin, ("iw", 0.9, True),
                               LangIdConfig(script_check=False)) == ("he", 0.9)  # CLD2's code for Hebrew
    assert confirmed_runner_up(ranked, latin, ("ga", 0.85, True), LangIdConfig(thresholds={"ga": 0.9})) == ("und", 0.85)


def test_cld2_gives_no_opinion_on_text_it_cannot_read():
    assert ask_cld2("abc \ud800 def") == ("und", 0.0, False)
    assert ask_cld2("")[2] is False


def test_config_describes_itself_with_a_version():
    record = LangIdConfig(thresholds={"en": 0.6}).describe()
    assert record["version"] == LANGID_VERSION and record["thresholds"] == {"en": 0.6}
    with pytest.raises(ValueError):
        LangIdConfig(top_k=0)


@pytest.mark.parametrize("label, expected", [
    ("__label__en", ("en", None)), ("__label__ceb", ("ceb", None)), ("__label__als", ("als", None)),
    ("__label__fra_Latn", ("fr", "Latn")), ("__label__cmn_Hani", ("zh", "Hani")), ("__label__ceb_Latn", ("ceb", "Latn")),
    ("__label__als_Latn", ("sq", "Latn")), ("__label__gsw_Latn", ("als", "Latn")), ("__label__nob_Latn", ("no", "Latn")),
    ("__label__yue_Hant", ("yue", "Hant")), ("__label__war_Latn", ("war", "Latn")), ("__label__zxx_Zxxx", ("und", "Zxxx")),
])
def test_glotlid_and_openlid_labels_map_to_lid176_codes(label, expected):
    assert parse_label(label) == expected


def test_dominant_script_weighs_cjk_characters_against_latin_letters():
    assert dominant_script("ls 命令列出目录内容") == "Hani"
    assert dominant_script("ls コマンドはディレクトリの内容を表示します") == "Jpan"
    assert dominant_script("Привет, world") == "Cyrl"


def test_beam_dofn_loads_in_setup_and_labels_a_batch():
    fn = IdentifyLanguage(LangIdConfig())
    fn.setup()
    out = list(fn.process([{"id": "a", "text": SNIPPETS["ru"][0], "meta": {}},
                           {"id": "b", "text": "", "meta": {}}]))
    assert [(d["id"], d["lang"]) for d in out] == [("a", "ru"), ("b", "und")]


def test_hints_used_when_langid_is_off():
    doc = {"meta": {"lang": "fr"}}
    assert hinted_language(doc, None) == "fr"
    assert hinted_language({"meta": {}}, "de") == "de"
    assert hinted_language({"meta": {"lang": "../../etc"}}, None) == "und"


def test_pipeline_partitions_by_language(tmp_path):
    from pipelines.curate import run

    corpus = tmp_path / "mixed.jsonl"
    texts = {code: text for code, (text, _) in SNIPPETS.items() if code in ("en", "fr", "ru", "ja", "ceb")}
    with open(corpus, "w", encoding="utf-8") as f:
        for code, text in texts.items():
            f.write(json.dumps({"id": code, "text": text}, ensure_ascii=False) + "\n")
        f.write(json.dumps({"id": "digits", "text": "1234 5678 9012 3456 7890"}) + "\n")
    ref, manifest = run(["--input", str(corpus), "--lake", str(tmp_path / "lake"), "--dataset", "lid",
                         "--disable", "filter,pii,dedup-exact,dedup-near", "--lid-thresholds", "en=0.6"])
    found = {}
    for shard in manifest["shards"]:
        table = ipc.open_file(pa.memory_map(str(ref.path / shard["path"]))).read_all()
        for doc_id in table.column("id").to_pylist():
            found[doc_id] = shard["path"].split("/")[1]
    assert found == {**{code: f"lang={code}" for code in texts}, "digits": "lang=und"}
    record = manifest["stages"]["langid"]
    assert record["version"] == LANGID_VERSION and record["thresholds"] == {"en": 0.6}
