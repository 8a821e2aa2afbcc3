"""Chat messages as receivers get them: a feed served and alerts posted through real sockets on 127.0.0.1.

One item matches in its title, one in its text, whose own ``**Breaking**`` must not pass for a match.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import LoopbackServer
from tests.daemon import monitor
from tests.test_end_to_end import accept

pytestmark = pytest.mark.integration

FEED = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Desk</title><link>http://127.0.0.1/</link><description>d</description>
<item><title>NATO summit opens in Vilnius</title><link>http://127.0.0.1/summit</link><guid>summit</guid>
<description>Leaders of the alliance meet on Tuesday. The agenda is long.</description></item>
<item><title>Markets close higher</title><link>http://127.0.0.1/markets</link><guid>markets</guid>
<description>**Breaking**: traders said the NATO talks lifted defence stocks.</description></item>
</channel></rss>"""


def test_messages_show_the_title_once_and_only_real_matches_in_bold(
    tmp_path: Path, loopback: LoopbackServer, database_url: str
) -> None:
    loopback.routes["/feed.xml"] = lambda _h: (200, {"Content-Type": "application/rss+xml"}, FEED)
    for path in ("/slack", "/generic", "/discord"):
        loopback.routes[path] = accept
    config = tmp_path / "settings.toml"
    config.write_text(
        f"""
[database]
url = "{database_url}"

[seeds]
enabled = false

[[feeds]]
name = "desk"
url = "{loopback.url("/feed.xml")}"

[webhooks.chat]
url = "{loopback.url("/slack")}"
format = "slack"

[webhooks.talk]
url = "{loopback.url("/discord")}"
format = "discord"

[webhooks.pipeline]
url = "{loopback.url("/generic")}"
format = "generic"

[[rules]]
name = "NATO"
query = "nato"
""",
        encoding="utf-8",
    )
    done = monitor("--config", str(config), "run", "--once")
    assert done.returncode == 0, done.stderr

    slack = {p["text"]: p for p in (r.json() for r in loopback.received_on("/slack"))}
    in_title = slack["NATO: NATO summit opens in Vilnius"]
    assert [block["type"] for block in in_title["blocks"]] == ["header", "section", "context"]
    assert in_title["blocks"][0]["text"]["text"] == "NATO"
    section = in_title["blocks"][1]["text"]["text"].split("\n")
    assert section[0] == "*<http://127.0.0.1/summit|NATO summit opens in Vilnius>*"
    assert section[-1] == ">Leaders of the alliance meet on Tuesday."
    assert json.dumps(in_title["blocks"]).count("NATO summit opens in Vilnius") == 1
    in_text = slack["NATO: Markets close higher"]["blocks"][1]["text"]["text"].split("\n")[-1]
    assert in_text == ">\u2217\u2217Breaking\u2217\u2217: traders said the *NATO* talks lifted defence stocks."

    discord = {p["embeds"][0]["title"]: p for p in (r.json() for r in loopback.received_on("/discord"))}
    assert discord["NATO summit opens in Vilnius"]["content"] == "**NATO**"
    description = discord["Markets close higher"]["embeds"][0]["description"]
    assert description == "\\*\\*Breaking\\*\\*: traders said the **NATO** talks lifted defence stocks."

    generic = {p["article"]["title"]: p for p in (r.json() for r in loopback.received_on("/generic"))}
    markets = generic["Markets close higher"]
    assert markets["field"] == "text"
    assert markets["snippet"] == "**Breaking**: traders said the NATO talks lifted defence stocks."
    assert [markets["snippet"][a:b] for a, b in markets["highlights"]] == ["NATO"]
    summit = generic["NATO summit opens in Vilnius"]
    assert (summit["field"], summit["snippet"], summit["highlights"]) == (
        "title",
        "NATO summit opens in Vilnius",
        [[0, 4]],
    )
