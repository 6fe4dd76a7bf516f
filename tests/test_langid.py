import pytest

from transforms.langid import LangIdConfig, LanguageIdentifier, hinted_language


@pytest.fixture(scope="module")
def lid():
    return LanguageIdentifier()


SNIPPETS = {
    "en": "The committee will publish its final report on the state of the railways next month.",
    "fr": "Le comité publiera le mois prochain son rapport final sur l'état des chemins de fer.",
    "ru": "Комитет опубликует свой окончательный доклад о состоянии железных дорог в следующем месяце.",
    "ar": "ستنشر اللجنة تقريرها النهائي عن حالة السكك الحديدية في الشهر المقبل.",
    "zh": "委员会将于下个月发布关于铁路状况的最终报告。",
    "ja": "委員会は来月、鉄道の状況に関する最終報告書を発表する予定です。",
    "ko": "위원회는 다음 달 철도 상황에 관한 최종 보고서를 발표할 예정입니다.",
    "el": "Η επιτροπή θα δημοσιεύσει την τελική της έκθεση για την κατάσταση των σιδηροδρόμων τον επόμενο μήνα.",
    "he": "הוועדה תפרסם בחודש הבא את הדוח הסופי שלה על מצב מסילות הברזל.",
    "hi": "समिति अगले महीने रेलवे की स्थिति पर अपनी अंतिम रिपोर्ट प्रकाशित करेगी।",
    "th": "คณะกรรมการจะเผยแพร่รายงานฉบับสุดท้ายเกี่ยวกับสภาพของการรถไฟในเดือนหน้า",
    "ceb": "Ang komite magpatik sa iyang katapusang taho bahin sa kahimtang sa mga riles sa sunod nga bulan.",
}


def test_scripts_and_three_letter_codes(lid):
    preds = lid.predict(list(SNIPPETS.values()))
    got = {expected: p.lang for expected, p in zip(SNIPPETS, preds)}
    assert got == {k: k for k in SNIPPETS}
    ceb = preds[list(SNIPPETS).index("ceb")]
    assert ceb.lang == "ceb" and len(ceb.lang) == 3  # three-letter labels are kept whole
    assert all(0.0 < p.score <= 1.0 and len(p.alternatives) == 3 for p in preds)


def test_empty_whitespace_and_digits_are_undetermined(lid):
    preds = lid.predict(["", "   \n\t ", "1234 5678 9012 3456"])
    assert [p.lang for p in preds] == ["und", "und", "und"]


def test_multiline_text_is_predicted_whole(lid):
    [p] = lid.predict(["Première ligne du document.\nDeuxième ligne, toujours en français.\n"])
    assert p.lang == "fr"


def test_per_language_threshold_sends_doubtful_docs_to_und():
    strict = LanguageIdentifier(LangIdConfig(thresholds={"fr": 0.9999}))
    [p] = strict.predict([SNIPPETS["fr"]])
    assert p.lang == "und" and p.alternatives[0][0] == "fr"


def test_hints_used_when_langid_is_off():
    doc = {"meta": {"lang": "fr"}}
    assert hinted_language(doc, None) == "fr"
    assert hinted_language({"meta": {}}, "de") == "de"
    assert hinted_language({"meta": {"lang": "../../etc"}}, None) == "und"
