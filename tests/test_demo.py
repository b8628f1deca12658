"""The demo page: what each model shows, bad folders, and the page itself in headless Chromium."""

from __future__ import annotations

import re
import shutil
import socket
import urllib.request

import pytest

from pipelines.cli import run_cli
from pipelines.demo import build_app, launch, main, predict_all
from pipelines.explain import load_all
from pipelines.export import ExportArguments, export
from tests.tiny_bert import build_tiny_bert
from tests.tiny_glove import build_tiny_glove

SENTENCE = "the film is not good , but the story is fun"


@pytest.fixture
def two_models(tmp_path):
    """A GloVe attention model run by PyTorch and a tiny BERT exported to ONNX."""
    glove = build_tiny_glove(tmp_path / "attention", "attention")
    bert = build_tiny_bert(tmp_path / "bert", ["negative", "positive"])
    export(ExportArguments(run_dir=str(bert), output=str(tmp_path / "bert-onnx")))
    return [str(glove), str(tmp_path / "bert-onnx")]


def test_each_model_gets_probabilities_and_shaded_words(two_models):
    classifiers = load_all(two_models)
    outputs = predict_all(classifiers, SENTENCE, n_steps=8)
    assert len(outputs) == 4
    for probabilities, page in zip(outputs[::2], outputs[1::2]):
        assert set(probabilities) == {"negative", "positive"} and sum(probabilities.values()) == pytest.approx(1.0)
        words = re.findall(r'<span class="word"[^>]*style="background:#[0-9a-f]{6};[^>]*>([^<]*)</span>', page)
        assert words[: len(SENTENCE.split())] == SENTENCE.split()
    assert 'class="attention"' in outputs[1] and 'class="attention"' not in outputs[3]  # GloVe attention only
    assert predict_all(classifiers, "   ") == [None, "", None, ""]


def test_a_folder_that_is_not_a_model_is_one_line(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("not a model")
    assert run_cli(main, [str(tmp_path), "--port", "7999"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error:") and "is not a model folder" in error and "\n" not in error


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.browser
@pytest.mark.skipif(not (shutil.which("chromium") and shutil.which("chromedriver")), reason="needs Debian's chromium and chromium-driver")
def test_the_page_in_headless_chromium(two_models, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    port = free_port()
    app = build_app(load_all(two_models), n_steps=8)
    launch(app, port, block=False)
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/").read().decode()
        links = re.findall(r'(?:src|href)="(https?://[^"]+)"', page)
        assert all(link.startswith(f"http://127.0.0.1:{port}/") for link in links)  # the package serves it all, no CDN
        driver.get(f"http://127.0.0.1:{port}/")
        wait = WebDriverWait(driver, 300)  # generous: the shared CI cores may be busy
        box = wait.until(ready.element_to_be_clickable((By.CSS_SELECTOR, "#sentence textarea")))
        box.send_keys(SENTENCE)
        driver.find_element(By.CSS_SELECTOR, "#classify").click()
        for i in range(2):
            wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, f"#words-{i} span.word")))
            words = [span.text for span in driver.find_elements(By.CSS_SELECTOR, f"#words-{i} .attribution span.word")]
            assert words == SENTENCE.split()
            label = wait.until(ready.visibility_of_element_located((By.CSS_SELECTOR, f"#label-{i}")))
            wait.until(lambda _: re.search(r"negative|positive", label.text))
            assert "negative" in label.text and "positive" in label.text
        driver.save_screenshot(str(tmp_path / "demo.png"))
    finally:
        driver.quit()
        app.close()
