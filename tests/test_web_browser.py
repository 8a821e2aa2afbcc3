"""The web pages in a real browser: headless Chromium, driven through chromedriver, against a real daemon.

The daemon runs on a loopback port over a real SQLite file fed by loopback feeds (``tests/website.py``). The test
reads what a person sees: the alerts with the hostile title shown as text and no script run, the story, the feeds'
and rules' charts, the workbench updating as one types (its results, then a query's error with its caret), the
alerts on a phone's width without sideways scrolling, and no Content-Security-Policy complaint in the console.
It saves a screenshot of each page in its temporary folder, or in ``tests/screenshots/`` (those the README shows)
with ``MONITOR_SAVE_SCREENSHOTS=1``. It is skipped, saying why, where Chromium, chromedriver or selenium is missing
(``apt-get install chromium chromium-driver``; ``.ci/run`` installs them).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import LoopbackServer
from tests.daemon import Daemon, monitor
from tests.test_observability_end_to_end import free_port
from tests.website import HOSTILE_TITLE, serve_feeds, wait_for_alerts, write_settings

pytestmark = pytest.mark.integration
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS = Path(__file__).parent / "screenshots"

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
    pytest.skip(
        f"{CHROMIUM} or {CHROMEDRIVER} is missing: apt-get install chromium chromium-driver", allow_module_level=True
    )

from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--lang=en"):
        options.add_argument(argument)
    options.add_argument("--window-size=1100,1000")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = webdriver.ChromeService(executable_path=str(CHROMEDRIVER))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def shots(tmp_path: Path) -> Path:
    folder = SCREENSHOTS if os.environ.get("MONITOR_SAVE_SCREENSHOTS") == "1" else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save(driver: webdriver.Chrome, folder: Path, name: str) -> Path:
    """Save a screenshot of the whole page (as tall as its content) and return its path."""
    width = driver.get_window_size()["width"]
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(max(height + 120, 600), 2400))
    path = folder / f"{name}.png"
    assert driver.save_screenshot(str(path)), path
    return path


def no_script_ran(driver: webdriver.Chrome) -> None:
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018


def test_a_person_reads_the_pages_and_tries_a_rule(
    tmp_path: Path, loopback: LoopbackServer, browser: webdriver.Chrome
) -> None:
    serve_feeds(loopback)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    folder = shots(tmp_path)
    daemon = Daemon(write_settings(tmp_path, loopback, f"127.0.0.1:{port}"))
    wait = WebDriverWait(browser, 20)
    try:
        wait_for_alerts(daemon, base, count=5)

        browser.get(f"{base}/")
        titles = [element.text for element in browser.find_elements(By.CSS_SELECTOR, ".alert .title")]
        assert HOSTILE_TITLE in titles  # the markup of the title is shown as it was written
        assert "Leaders gather for the NATO summit in Vilnius" in titles
        assert browser.find_elements(By.CSS_SELECTOR, ".alert .title img") == []
        no_script_ran(browser)
        marks = [element.text for element in browser.find_elements(By.CSS_SELECTOR, ".alert .snippet mark")]
        assert "Donbass" in marks
        assert browser.find_element(By.CSS_SELECTOR, ".alert .deliveries").text == "no webhook: printed on the console"
        save(browser, folder, "alerts")

        story = browser.find_element(By.CSS_SELECTOR, ".also-in summary a")
        story.click()
        wait.until(lambda driver: "/stories/" in driver.current_url)
        outlets = [element.text for element in browser.find_elements(By.CSS_SELECTOR, ".outlet h2")]
        assert sorted(outlets) == ["paper", "wire"]
        assert "fetched" in browser.find_element(By.CSS_SELECTOR, ".outlet .times").text
        save(browser, folder, "story")

        browser.get(f"{base}/feeds")
        cards = browser.find_elements(By.CSS_SELECTOR, ".feed")
        assert [card.find_element(By.TAG_NAME, "h2").text for card in cards] == ["world", "wire", "paper", "broken"]
        assert len(browser.find_elements(By.CSS_SELECTOR, ".feed svg.chart rect")) == 4 * 14
        broken = cards[3]
        assert broken.find_element(By.CSS_SELECTOR, ".status").text == "error (http)"
        assert "HTTP 503" in broken.find_element(By.CSS_SELECTOR, "dd.error").text
        save(browser, folder, "feeds")

        browser.get(f"{base}/rules")
        rules = [element.text for element in browser.find_elements(By.CSS_SELECTOR, ".rule h2")]
        assert rules == ["NATO summit", "Donbass"]
        assert "NATO NEAR/3 summit" in browser.find_element(By.CSS_SELECTOR, ".rule .query").text
        save(browser, folder, "rules")

        browser.get(f"{base}/workbench")
        field = browser.find_element(By.ID, "q")
        field.send_keys("Donbass")  # no button pressed: the page updates as one types
        wait.until(lambda driver: driver.find_elements(By.CSS_SELECTOR, "#results .count"))
        count = browser.find_element(By.CSS_SELECTOR, "#results .count").text
        assert count.startswith("4 of 5 articles matched since"), count
        assert browser.current_url.endswith("/workbench?q=Donbass&any=&exclude=&since=7d")
        assert len(browser.find_elements(By.CSS_SELECTOR, "#results .matches li")) == 4
        no_script_ran(browser)
        save(browser, folder, "workbench")

        field.send_keys(" AND")
        wait.until(lambda driver: driver.find_elements(By.CSS_SELECTOR, "#results .problem"))
        problem = browser.find_element(By.CSS_SELECTOR, "#results .problem").text
        told = monitor("rules", "test", "Donbass AND", "--text", "x").stderr  # what the command line says
        assert problem.splitlines() == told.rstrip("\n").splitlines()
        assert problem.splitlines()[-1].index("^") == problem.splitlines()[-2].index("AND")
        save(browser, folder, "workbench-error")

        browser.set_window_size(390, 844)  # a phone
        browser.get(f"{base}/")
        width = browser.execute_script("return document.documentElement.scrollWidth")
        assert width <= browser.execute_script("return window.innerWidth"), width
        save(browser, folder, "alerts-phone")

        complaints = [
            entry["message"] for entry in browser.get_log("browser") if "Content Security Policy" in entry["message"]
        ]
        assert complaints == []
    finally:
        daemon.stop()
    for name in ("alerts", "story", "feeds", "rules", "workbench", "workbench-error", "alerts-phone"):
        assert (folder / f"{name}.png").stat().st_size > 10_000
    if folder != SCREENSHOTS:
        shutil.rmtree(folder)
