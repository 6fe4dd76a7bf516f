from transforms.filters import FilterConfig, count_words, filter_document, first_failure, score_document
from transforms.pii import redact


def _doc(text):
    return {"id": "d", "uid": "u", "text": text, "source": "s", "lang": "und", "meta": {}}


def test_words_counted_per_character_in_scripts_without_spaces():
    assert count_words("the quick brown fox") == 4
    assert count_words("委员会将于下个月发布") == 10
    assert count_words("東京 Tower に行く") == 6  # 5 CJK characters + 1 spaced word
    assert count_words("ทุกเช้าวันอาทิตย์") > 5


def test_scores_stored_and_first_failure_reported():
    cfg = FilterConfig(min_words=5, max_special_char_ratio=0.4)
    doc, failure = filter_document(_doc("Click here"), cfg)
    assert failure == ("min_words", 2, 5)
    assert doc["meta"]["filter_scores"]["words"] == 2
    _, failure = filter_document(_doc("{}[]();;; {}[]();;; {}[]();;; {}[]();;; {}[]();;; ok"), cfg)
    assert failure[0] == "max_special_char_ratio" and failure[1] > 0.4
    assert first_failure(score_document("Это вполне нормальное предложение на русском языке."), cfg) is None
    assert first_failure(score_document("هذه جملة عربية عادية تماما ولا مشكلة فيها."), cfg) is None


def test_pii_emails_and_ips():
    text, counts = redact("Write to jean.dupont@example.fr or ssh 192.168.1.20, v6 2001:db8::8a2e:370:7334.")
    assert text == "Write to <EMAIL> or ssh <IP_ADDRESS>, v6 <IP_ADDRESS>."
    assert counts == {"email": 1, "ip_address": 2}


def test_pii_leaves_version_numbers_and_times_alone():
    for s in ["release 1.2.3.4.5 is out", "not an ip 10.0.0.256", "meet at 12:30:45", "version 2.0.1"]:
        assert redact(s) == (s, {})


def test_pii_email_in_non_latin_text():
    text, counts = redact("почта: иван@пример.рф, 電郵 user@例子.中国")
    assert counts["email"] == 2 and "иван" not in text
