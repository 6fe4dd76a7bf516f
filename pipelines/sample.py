"""The built-in sample: a small multilingual corpus written at run time, so a first run needs
nothing but the package. It exercises every stage on purpose: several languages and scripts,
exact and near duplicates, junk for the filters, personal data for redaction, and broken input
(a malformed JSON line, invalid UTF-8, an empty document, a truncated gzip file) for quarantine.
"""
from __future__ import annotations

import gzip
import io
import json
import os

from apache_beam.io.filesystems import CompressionTypes, FileSystems

TEXTS: dict[str, list[str]] = {
    "en": [
        "The river that runs through the old town floods almost every spring, and the people who live "
        "along its banks have learned to move their furniture upstairs as soon as the snow in the "
        "mountains starts to melt. The council has promised a new wall for twenty years, but the "
        "money always seems to go somewhere else, usually to the football stadium on the hill.",
        "A good library is not a warehouse of books but a place where questions are welcome. The "
        "librarians in our village know every reader by name, they remember which novels you liked "
        "last winter, and they will order almost anything you ask for if you are patient enough to "
        "wait a few weeks for it to arrive from the city.",
        "Baking bread at home takes less work than most people think. Flour, water, salt and a little "
        "yeast are enough; time does the rest. Mix the dough in the evening, leave it covered on the "
        "kitchen table overnight, shape it in the morning and bake it in a very hot oven for forty minutes.",
    ],
    "fr": [
        "Le marché du samedi matin attire des familles venues de tous les villages voisins. On y trouve "
        "des fromages de chèvre, des pommes de l'automne dernier, du miel de lavande et des paniers "
        "tressés à la main par un vieil homme qui refuse obstinément de donner son âge aux clients curieux.",
        "La bibliothèque municipale prolonge ses horaires d'ouverture pendant les vacances scolaires afin "
        "que les élèves puissent réviser au calme. Des ateliers d'écriture sont proposés chaque mercredi "
        "après-midi, et l'inscription reste gratuite pour tous les habitants de la commune.",
    ],
    "de": [
        "Der Zug nach Hamburg hatte wieder einmal Verspätung, und die Reisenden auf dem Bahnsteig "
        "warteten geduldig im kalten Wind. Eine ältere Dame verteilte Kekse aus einer Blechdose, ein "
        "Student las laut aus seinem Lehrbuch vor, und niemand schien sich wirklich zu beschweren.",
        "Im Herbst sammeln die Kinder Kastanien im Park und basteln daraus kleine Tiere mit Streichhölzern. "
        "Die Lehrerin stellt die schönsten Figuren im Fenster der Schule aus, wo sie bis zum ersten Schnee "
        "von allen Spaziergängern bewundert werden.",
    ],
    "es": [
        "La cooperativa de pescadores del puerto decidió vender directamente a los restaurantes de la "
        "ciudad. Desde entonces los precios son más justos, el pescado llega más fresco a la mesa y los "
        "jóvenes del pueblo vuelven a interesarse por un oficio que parecía condenado a desaparecer.",
        "Cada verano el festival de cine al aire libre llena la plaza mayor de sillas plegables y mantas. "
        "Los vecinos traen la cena de casa, los niños se duermen antes del final y nadie recuerda muy "
        "bien de qué trataba la película, pero todos vuelven al año siguiente.",
    ],
    "it": [
        "Nel piccolo paese di montagna la panetteria apre alle cinque del mattino, e il profumo del pane "
        "appena sfornato arriva fino alla piazza. Gli anziani si siedono sulla panchina davanti alla "
        "chiesa e commentano le notizie del giorno con grande serietà.",
    ],
    "pt": [
        "A horta comunitária do bairro começou com três canteiros abandonados e hoje alimenta dezenas de "
        "famílias. Os moradores dividem as tarefas, trocam sementes e organizam almoços aos domingos, "
        "quando cada um traz um prato feito com o que colheu durante a semana.",
    ],
    "ru": [
        "Зимой в нашем городе темнеет очень рано, поэтому вечерами люди собираются в библиотеке, где "
        "всегда тепло и пахнет старыми книгами. Библиотекарь заваривает чай в большом самоваре и "
        "рассказывает истории о писателях, которые когда-то жили на соседних улицах.",
        "Летом мы всей семьёй уезжаем на дачу, где бабушка выращивает огурцы, помидоры и клубнику. "
        "Дети купаются в реке до самого вечера, а взрослые спорят о том, когда лучше собирать грибы.",
    ],
    "uk": [
        "Навесні у нашому селі всі виходять садити картоплю, і навіть найменші діти мають своє завдання. "
        "Після роботи сусіди збираються на подвір'ї, співають старих пісень і частують одне одного пирогами.",
    ],
    "el": [
        "Το καλοκαίρι το μικρό νησί γεμίζει επισκέπτες, αλλά τον χειμώνα μένουν μόνο οι ψαράδες και οι "
        "οικογένειές τους. Τα βράδια μαζεύονται στο καφενείο της πλατείας και συζητούν για τον καιρό και τη θάλασσα.",
    ],
    "ar": [
        "يجتمع أهل الحي كل مساء جمعة في الحديقة العامة، حيث يلعب الأطفال كرة القدم ويتبادل الكبار "
        "الأحاديث وأكواب الشاي. وقد قررت البلدية هذا العام زراعة مئة شجرة جديدة على طول الطريق المؤدي إلى المدرسة.",
    ],
    "he": [
        "בכל יום שישי בבוקר השוק בעיר מתמלא באנשים שקונים פירות, ירקות ולחם טרי לשבת. המוכרים "
        "צועקים את המחירים, והריח של התבלינים מגיע עד לתחנת האוטובוס.",
    ],
    "hi": [
        "हमारे गाँव में हर साल फसल कटने के बाद एक बड़ा मेला लगता है। लोग दूर-दूर से आते हैं, बच्चे झूले "
        "झूलते हैं और औरतें रंग-बिरंगी चूड़ियाँ खरीदती हैं। रात को लोक गीतों का कार्यक्रम होता है।",
    ],
    "zh": [
        "每年春节前，城里的人们都会回到家乡和家人团聚。火车站里挤满了拿着大包小包的旅客，"
        "大家虽然很累，但是脸上都带着笑容，因为马上就能吃到妈妈做的饺子了。",
        "这个小城的图书馆最近延长了开放时间，周末还为孩子们举办读书会。很多家长说，"
        "孩子们现在比以前更喜欢看书了，也愿意和朋友们分享自己喜欢的故事。",
    ],
    "ja": [
        "毎朝、駅前のパン屋さんには長い行列ができます。焼きたてのクロワッサンが特に人気で、"
        "八時を過ぎるとほとんど売り切れてしまいます。店主は三十年以上同じ場所でお店を続けています。",
    ],
    "ko": [
        "우리 동네에는 작은 도서관이 하나 있는데, 주말마다 아이들을 위한 그림책 읽기 모임이 열립니다. "
        "자원봉사자들이 책을 읽어 주면 아이들은 눈을 반짝이며 이야기에 귀를 기울입니다.",
    ],
    "th": [
        "ทุกเช้าวันอาทิตย์ ตลาดริมแม่น้ำจะเต็มไปด้วยผู้คนที่มาซื้อผักผลไม้สดและอาหารพื้นบ้าน "
        "พ่อค้าแม่ค้าพายเรือนำสินค้ามาขาย และนักท่องเที่ยวก็ชอบถ่ายรูปบรรยากาศที่มีชีวิตชีวานี้",
    ],
    "tr": [
        "Eski mahallemizde her sabah simitçi aynı saatte geçer ve çocuklar okula gitmeden önce ondan "
        "sıcak simit alırlar. Komşular balkonlardan birbirine seslenir, günün haberlerini paylaşır.",
    ],
    "pl": [
        "W naszym mieście co roku w maju odbywa się festiwal kwiatów. Ulice zamieniają się w kolorowe "
        "ogrody, a mieszkańcy prześcigają się w pomysłach na najpiękniej udekorowany balkon.",
    ],
    "ceb": [
        "Sa among baryo, ang mga mangingisda mobiya sa kabuntagon ug mobalik sa hapon nga daghang isda. "
        "Ang mga bata modagan sa baybayon aron motabang sa pagbira sa mga pukot ug magdula sa balas.",
    ],
}

JUNK = [
    "$$$ ### !!! @@@ %%% ^^^ &&& *** ((( ))) === +++ ||| ~~~ <<< >>> ??? ;;; ::: ,,, ... ''' \"\"\"",
    "Click here",
    "{}[]();;;{}[]();;;{}[]();;;{}[]();;;{}[]();;;{}[]();;;{}[]();;;{}[]();;;",
]

PII = [
    "For questions about the spring cleaning day write to maria.keller@example.org or call the town "
    "hall; the registration server at 192.168.10.24 will be offline during the weekend maintenance.",
    "Pour toute réclamation, écrivez à service.client@exemple.fr en précisant votre numéro de commande; "
    "notre équipe vous répondra sous quarante-huit heures ouvrées.",
]


def _near_copy(text: str) -> str:
    """The same document after light editing: one word changed, punctuation and case altered."""
    words = text.split()
    words[len(words) // 2] = "really"
    return " ".join(words).replace(",", ";")


def _gzip(data: bytes, name: str) -> bytes:
    """Gzip with a fixed mtime and the file name in the header, so the sample is the same bytes every run."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename=name, mode="wb", fileobj=buf, mtime=0) as f:
        f.write(data)
    return buf.getvalue()


def _put(path: str, data: bytes) -> None:
    """Write bytes as they are (Beam would gzip a ``.gz`` name again) on any Beam filesystem."""
    with FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        f.write(data)


def _jsonl(records: list[dict]) -> bytes:
    return "".join(json.dumps(rec, ensure_ascii=False) + "\n" for rec in records).encode("utf-8")


def write_sample(directory: str) -> str:
    """Write the sample files and their sources file into ``directory``; return the sources path.

    ``directory`` may be a local path or a ``gs://``/``s3://`` prefix: everything is written
    through Beam's filesystems, so Dataflow workers can read a sample staged on the object store.
    """
    news, forum = [], []
    for lang, texts in sorted(TEXTS.items()):
        for i, text in enumerate(texts):
            news.append({"id": f"news-{lang}-{i}", "text": text, "url": f"https://news.example/{lang}/{i}"})
    forum.append({"id": "forum-copy-en-0", "text": TEXTS["en"][0]})
    forum.append({"id": "forum-copy-fr-1", "text": TEXTS["fr"][1].replace(" ", "  ")})
    forum.append({"id": "forum-near-en-1", "text": _near_copy(TEXTS["en"][1])})
    forum.append({"id": "forum-near-es-0", "text": _near_copy(TEXTS["es"][0])})
    forum += [{"id": f"forum-junk-{i}", "text": t} for i, t in enumerate(JUNK)]
    forum += [{"id": f"forum-pii-{i}", "text": t} for i, t in enumerate(PII)]
    forum.append({"id": "forum-empty", "text": " \n\t "})
    broken = b'{"id": "forum-broken", "text": "unterminated\n' + b'{"id": "forum-latin1", "text": "caf\xe9 cr\xe8me"}\n'
    complete = gzip.compress(b"".join((json.dumps({"id": f"archive-{i}", "text": TEXTS["de"][i]}) + "\n").encode()
                                      for i in range(2)), mtime=0)
    files = {
        "news.jsonl": _jsonl(news),
        "forum.jsonl.gz": _gzip(_jsonl(forum) + broken, "forum.jsonl.gz"),
        "archive.jsonl.gz": complete[: len(complete) * 2 // 3],  # truncated download
        "notes/ceb-fishing.txt": (TEXTS["ceb"][0] + "\n\nSa gabii, ang tibuok pamilya magkaon og sinugba nga isda.").encode(),
        "notes/ja-station.txt": TEXTS["ja"][0].encode("utf-8"),
    }
    for name, data in files.items():
        _put(os.path.join(directory, name), data)

    sources = [
        {"name": "sample-news", "paths": [os.path.join(directory, "news.jsonl")], "license": "CC-BY-4.0", "priority": 0},
        {"name": "sample-forum", "paths": [os.path.join(directory, "forum.jsonl.gz")], "license": "CC-BY-SA-4.0", "priority": 1},
        {"name": "sample-archive", "paths": [os.path.join(directory, "archive.jsonl.gz")], "license": "CC0-1.0", "priority": 2},
        {"name": "sample-notes", "paths": [os.path.join(directory, "notes", "*.txt")], "license": "CC0-1.0", "priority": 2},
    ]
    path = os.path.join(directory, "sources.json")
    _put(path, json.dumps(sources, indent=2).encode("utf-8"))
    return path
