"""The lake browser in real headless Chromium: navigation, numbers against the manifest, hostile text."""
import json
import shutil
import threading

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER),
    reason="needs chromium and chromedriver (Debian: apt-get install chromium chromium-driver)",
)

HOSTILE = ("Breaking news from the harbour today <script>window.pwned = 1; document.title = 'pwned'</script> "
           "<img src=x onerror=\"window.pwned = 2\"> the fishermen report a calm sea and a very good catch "
           "of sardines, which they will sell at the market on Saturday morning.")
DOCS = [
    {"id": "hostile-1", "text": HOSTILE},
    {
        "id": "fr-1",
        "text": "Le conseil municipal a voté hier soir le nouveau budget pour la rénovation des écoles primaires.",
    },
    {
        "id": "fr-2",
        "text": "Les randonneurs sont invités à prévoir de l'eau et des vêtements chauds pour la montée au col.",
    },
    {
        "id": "de-1",
        "text": "Der Stadtrat hat gestern Abend den neuen Haushalt für die Sanierung der Grundschulen beschlossen.",
    },
    {"id": "short", "text": "too short"},
]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from catalog.serve import make_server
    from pipelines.curate import run

    tmp = tmp_path_factory.mktemp("browser")
    corpus = tmp / "news.jsonl"
    corpus.write_text("".join(json.dumps(d) + "\n" for d in DOCS), encoding="utf-8")
    ref, manifest = run(["--input", str(corpus), "--lake", str(tmp / "lake"), "--dataset", "news"])
    server = make_server(tmp / "lake", port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", manifest
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _number(driver, css: str) -> int:
    from selenium.webdriver.common.by import By

    return int(driver.find_element(By.CSS_SELECTOR, css).text.replace(",", ""))


def test_browse_into_a_version_and_see_the_manifest_numbers(served, browser):
    from selenium.webdriver.common.by import By

    url, manifest = served
    browser.get(url + "/")
    browser.find_element(By.LINK_TEXT, "news").click()
    browser.find_element(By.CSS_SELECTOR, "a.version").click()
    assert browser.current_url == f"{url}/d/news/v{manifest['version']}/"
    c = manifest["counts"]
    assert _number(browser, "#kept") == c["kept"] and _number(browser, "#input") == c["input"]
    assert _number(browser, "#funnel-filtered") == sum(c["filtered"].values()) == 1
    assert _number(browser, "#funnel-duplicates") == sum(c["duplicates"].values())
    assert _number(browser, "#funnel-quarantined") == c["quarantined"]
    for lang, stats in manifest["languages"].items():
        assert _number(browser, f'span[data-lang="{lang}"][data-field="docs"]') == stats["docs"]
    chart = browser.find_element(By.CSS_SELECTOR, "svg.chart")
    assert len(chart.find_elements(By.TAG_NAME, "rect")) == len(manifest["languages"])
    page = browser.find_element(By.TAG_NAME, "body").text
    assert "news.jsonl" in page and manifest["lineage"]["runner"] in page  # lineage is shown
    assert "unknown" in page  # the licence of an --input source


def test_hostile_document_is_shown_as_text_and_runs_nothing(served, browser):
    from selenium.webdriver.common.by import By

    url, manifest = served
    browser.get(f"{url}/d/news/v{manifest['version']}/")
    texts = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "article.doc pre.text")]
    assert any("<script>window.pwned = 1;" in t and "<img src=x onerror=" in t for t in texts)
    assert browser.execute_script("return window.pwned === undefined") is True
    assert browser.title == f"news@v{manifest['version']}"
    assert browser.find_elements(By.CSS_SELECTOR, "article.doc script, article.doc img") == []
