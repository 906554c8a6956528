"""The narration studio in a real browser: Debian's headless chromium driven by Selenium through Debian's
chromedriver (both named by path, so Selenium Manager never downloads anything), against a live studio on a tiny
GlowTTS. Render a 5-paragraph lesson, click a vowel in paragraph 3, render the stale paragraph, export, restart.

The screenshot of the page after the re-render goes to the test's tmp dir, and with STUDIO_SCREENSHOT=1 also to
docs/studio.png (the README's), so that an ordinary run leaves the checkout as it was."""
import os
from pathlib import Path

import pytest
from conftest import ROOT
from test_studio import assert_export_in_sync, close, lesson, open_studio, takes  # noqa: F401  (lesson: fixture)
from test_synth import tiny_run  # noqa: F401  (a fixture)

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOT = ROOT / "docs" / "studio.png"
WAIT_S = 60
PARAGRAPHS = range(1, 6)

pytestmark = pytest.mark.skipif(not CHROMEDRIVER.is_file(),
                                reason=f"{CHROMEDRIVER} is absent: install chromium-driver (scripts/setup.sh WITH_BROWSER=1)")


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900",
                     "--lang=ru", "--autoplay-policy=no-user-gesture-required"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_window_size(1280, 900)
    yield driver
    driver.quit()


class Page:
    """What a person sees and clicks on the studio page."""

    def __init__(self, driver, url: str):
        from selenium.webdriver.support.ui import WebDriverWait

        self.driver = driver
        driver.get(url)
        self.waiting = WebDriverWait(driver, WAIT_S, poll_frequency=0.1)

    def css(self, selector: str):
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def until(self, check, what: str):
        return self.waiting.until(lambda _: check(), message=f"the page never showed {what}")

    def statuses(self) -> list[str | None]:
        return self.driver.execute_script(
            "return [1, 2, 3, 4, 5].map((n) => document.getElementById('p' + n)?.dataset.status ?? null)")

    def audio(self, n: int) -> str | None:  # the take's URL as the page resolved it
        return self.driver.execute_script(f"return document.querySelector('#p{n} audio')?.src ?? null")

    def click(self, selector: str) -> None:
        self.css(selector).click()

    def job_done(self, message: str) -> bool:
        return (self.driver.execute_script("return document.body.dataset.job") == "done"
                and not self.css("#progress").is_displayed() and self.css("#message").text.startswith(message))

    def render_all_and_wait(self, expect: list[str]) -> None:
        assert not self.css("#message").text  # the line "озвучено абзацев: N" below is this job's
        self.click("#render")  # the real button; its job's progress bar shows until the job is done
        self.until(lambda: self.job_done("озвучено абзацев:") and self.statuses() == expect, f"statuses {expect}")

    def plays(self, n: int) -> float:
        """The duration chromium decodes from paragraph n's take (its <audio> is preload=none: load it)."""
        return self.driver.execute_async_script("""
            const [n, done] = arguments, audio = document.querySelector('#p' + n + ' audio');
            audio.onloadedmetadata = () => done(audio.duration);
            audio.onerror = () => done(-1);
            audio.preload = 'auto'; audio.load();""", n)


def test_the_page_in_chromium_renders_moves_a_stress_renders_one_paragraph_exports_and_reopens(
        lesson, tiny_run, browser, tmp_path):  # noqa: F811
    server, client = open_studio(lesson, tiny_run)
    try:
        page = Page(browser, client.url)
        page.until(lambda: page.statuses() == ["new"] * 5, "five new paragraphs")
        page.render_all_and_wait(["rendered"] * 5)
        before_files, before_urls = takes(lesson), [page.audio(n) for n in PARAGRAPHS]
        assert len(before_files) == 5 and None not in before_urls

        third = page.css("#p3 .text")
        assert third.text == "Молоко стоит на столе. Кошка спит."
        assert "молоко\u0301" in page.css("#p3 .reading").text  # the front end's own stress, as an accent
        page.click("#p3 .text span.v[data-offset='1']")  # the first "о" of "Молоко"
        page.until(lambda: page.statuses() == ["rendered", "rendered", "stale", "rendered", "rendered"],
                   "only paragraph 3 stale")
        page.render_all_and_wait(["rendered"] * 5)

        after_files, after_urls = takes(lesson), [page.audio(n) for n in PARAGRAPHS]
        assert {k: v for k, v in after_files.items() if k in before_files} == before_files  # byte-identical
        [new] = set(after_files) - set(before_files)
        assert [b == a for b, a in zip(before_urls, after_urls)] == [True, True, False, True, True]
        assert after_urls[2].endswith(f"/files/takes/{new}")
        assert page.css("#p3 .text").text.startswith("Мо\u0301локо")
        assert [s.text for s in browser.find_elements("css selector", "#p3 .text span.v.on")] == ["о\u0301"]
        assert "мо\u0301локо" in page.css("#p3 .reading").text  # the new reading, the accent over the new vowel
        assert page.css("#message").text == "озвучено абзацев: 1"
        state = client.state()["paragraphs"][2]
        assert abs(page.plays(3) - state["duration"]) < 0.05  # chromium decodes the new take

        browser.execute_script("window.scrollTo(0, 0)")
        png = browser.get_screenshot_as_png()
        (tmp_path / "studio.png").write_bytes(png)
        if os.environ.get("STUDIO_SCREENSHOT") == "1":
            SCREENSHOT.write_bytes(png)

        page.click("#export")
        page.until(lambda: page.job_done("записано в"), "the export done")
        assert_export_in_sync(lesson.parent / "out")
    finally:
        close(server)

    server, client = open_studio(lesson, tiny_run)  # restarted on the same lesson: nothing rendered again
    try:
        page = Page(browser, client.url)
        page.until(lambda: page.statuses() == ["rendered"] * 5, "every paragraph rendered after the restart")
        assert [page.audio(n) for n in PARAGRAPHS][2].endswith(f"/files/takes/{new}")
        page.render_all_and_wait(["rendered"] * 5)
        assert client.get("api/job")[1]["job"]["rendered"] == 0
        assert page.css("#message").text == "озвучено абзацев: 0"
        assert takes(lesson) == after_files
    finally:
        close(server)
