"""The web pages of a real daemon on a loopback port, over a real SQLite file fed by loopback feeds.

What a person asking for the pages gets: alerts with their deliveries and story copies, a story outlet by outlet,
feeds with their charts and errors, rules as they run, the workbench's results and its errors with a caret; a
hostile title as text; the token asked for (and never logged); no page on an address other than loopback without
a token, while /healthz and /metrics answer as always.
"""

from __future__ import annotations

import base64
import re
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import LoopbackServer
from tests.daemon import Daemon, monitor
from tests.test_observability_end_to_end import free_port, healthz
from tests.website import HOSTILE_TITLE, serve_feeds, wait_for_alerts, write_settings

pytestmark = pytest.mark.integration
TOKEN = "pages-token-0123456789abcdef"
ALERTS = 5  # the seed's two, the hostile item's, the NATO summit item's, the story's once


@pytest.fixture
def site(tmp_path: Path, loopback: LoopbackServer) -> LoopbackServer:
    serve_feeds(loopback)
    return loopback


def test_the_pages_show_what_they_describe_and_a_hostile_title_as_text(tmp_path: Path, site: LoopbackServer) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    daemon = Daemon(write_settings(tmp_path, site, f"127.0.0.1:{port}"))
    try:
        alerts = wait_for_alerts(daemon, base, count=ALERTS)
        answer = httpx.get(f"{base}/")
        by_rule = httpx.get(f"{base}/", params={"rule": "NATO summit"}).text
        story_id = re.search(r'href="/stories/(\d+)"', alerts)
        assert story_id is not None, alerts
        story = httpx.get(f"{base}/stories/{story_id[1]}")
        feeds = httpx.get(f"{base}/feeds")
        rules = httpx.get(f"{base}/rules")
        found = httpx.get(f"{base}/workbench", params={"q": "Donbass"})
        partial = httpx.post(f"{base}/workbench/results", data={"q": "Donbass", "text": "Fighting in the Donbass."})
        bad = httpx.get(f"{base}/workbench", params={"q": "nato AND"})
        missing = httpx.get(f"{base}/stories/999999")
        posted = httpx.post(f"{base}/")
        health = httpx.get(f"{base}/healthz")
        metrics = httpx.get(f"{base}/metrics")
    finally:
        daemon.stop()

    assert answer.status_code == 200 and answer.headers["content-type"] == "text/html; charset=utf-8"
    policy = answer.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert answer.headers["x-content-type-options"] == "nosniff" and answer.headers["referrer-policy"] == "no-referrer"
    assert alerts.count('class="alert"') == ALERTS
    # The hostile title is text: escaped, never markup; its javascript: link is no link.
    assert "&lt;script&gt;alert(&#34;title&#34;)&lt;/script&gt; Donbass &lt;img src=x onerror=alert(1)&gt;" in alerts
    assert "<script>" not in alerts and "onerror=alert" not in alerts.replace("&lt;img src=x onerror=alert(1)&gt;", "")
    assert "javascript:" not in alerts
    assert "<mark>Donbass</mark>" in alerts  # the match marked in the snippet
    assert 'class="delivery' not in alerts and "no webhook: printed on the console" in alerts
    assert "Also in 1 other article" in alerts
    assert by_rule.count('class="alert"') == 2 and "Leaders gather for the NATO summit in Vilnius" in by_rule
    assert story.status_code == 200
    assert "<h2>wire</h2>" in story.text and "<h2>paper</h2>" in story.text and "fetched 20" in story.text
    assert feeds.status_code == 200
    for name in ("world", "wire", "paper", "broken"):
        assert f"<h2>{name}</h2>" in feeds.text
    assert feeds.text.count('<svg class="chart"') == 4
    assert "error (http)" in feeds.text and "HTTP 503" in feeds.text
    assert rules.status_code == 200 and rules.text.count('<svg class="chart"') == 2
    assert "(&#34;Donbass&#34; OR &#34;Donbas&#34; OR &#34;Донбасс&#34; OR &#34;Донбас&#34;)" in rules.text
    assert "NATO NEAR/3 summit OR OTAN NEAR/3 sommet" in rules.text
    assert found.status_code == 200
    assert re.search(r"<strong>4</strong> of 5 articles matched since", found.text), found.text  # both copies
    assert "The text matches" in partial.text and "<h1>" not in partial.text
    assert bad.status_code == 200
    told = monitor("rules", "test", "nato AND", "--text", "x").stderr.strip()
    assert told.startswith("error: invalid query:")
    escaped = told.replace("'", "&#39;")
    assert f'<pre class="problem" data-field="q">{escaped}</pre>' in bad.text
    assert missing.status_code == 404 and posted.status_code == 405
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert metrics.status_code == 200 and "monitor_build_info" in metrics.text
    assert HOSTILE_TITLE not in daemon.log()


def test_a_token_guards_the_pages_and_never_shows_in_the_logs(tmp_path: Path, site: LoopbackServer) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    daemon = Daemon(write_settings(tmp_path, site, f"127.0.0.1:{port}", TOKEN))
    bearer = {"authorization": f"Bearer {TOKEN}"}
    try:
        wait_for_alerts(daemon, base, bearer, count=ALERTS)
        without = httpx.get(f"{base}/")
        wrong = httpx.get(f"{base}/", headers={"authorization": f"Bearer {TOKEN}x"})
        with_bearer = httpx.get(f"{base}/feeds", headers=bearer)
        with_basic = httpx.get(f"{base}/rules", auth=("anyone", TOKEN))
        basic_wrong = httpx.get(f"{base}/rules", auth=(TOKEN, "nope"))
        workbench = httpx.get(f"{base}/workbench", params={"q": "Donbass"})
        health = httpx.get(f"{base}/healthz")
        metrics = httpx.get(f"{base}/metrics")
    finally:
        daemon.stop()
    assert without.status_code == 401 and without.headers["www-authenticate"].startswith("Basic realm=")
    assert "[server] token" in without.text and TOKEN not in without.text
    assert wrong.status_code == 401 and basic_wrong.status_code == 401 and workbench.status_code == 401
    assert with_bearer.status_code == 200 and "<h2>world</h2>" in with_bearer.text
    assert with_basic.status_code == 200 and "NATO summit" in with_basic.text
    assert health.status_code == 200 and metrics.status_code == 200
    encoded = base64.b64encode(f"anyone:{TOKEN}".encode()).decode()
    assert TOKEN not in daemon.log() and encoded not in daemon.log()
    checked = monitor("--config", str(tmp_path / "settings.toml"), "check")
    assert "the web pages (with the [server] token)" in checked.stdout and TOKEN not in checked.stdout


def test_no_page_on_an_address_other_than_loopback_without_a_token(tmp_path: Path, site: LoopbackServer) -> None:
    port = free_port()
    config = write_settings(tmp_path, site, f"0.0.0.0:{port}")
    checked = monitor("--config", str(config), "check")
    assert checked.returncode == 0
    assert f"server: 0.0.0.0:{port}: /healthz and /metrics; the web pages are off" in checked.stdout
    assert "set [server] token to serve them" in checked.stdout
    daemon = Daemon(config)
    base = f"http://127.0.0.1:{port}"
    try:
        health = healthz(base, time.monotonic() + 30)
        page = httpx.get(f"{base}/")
        workbench = httpx.get(f"{base}/workbench", params={"q": "Donbass"})
        metrics = httpx.get(f"{base}/metrics")
    finally:
        daemon.stop()
    assert health.status_code == 200
    assert metrics.status_code == 200 and "monitor_database_up 1.0" in metrics.text
    assert page.status_code == 403 and workbench.status_code == 403
    assert "[server] token" in page.text and "0.0.0.0" in page.text
    assert "the web pages are off" in daemon.log() and "set [server] token to serve them" in daemon.log()
