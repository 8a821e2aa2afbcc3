"""Commands that only read the database run where the webhooks' ``${NAME}`` variables are unset; ``run`` and
``check`` still need them. Through the real command line, with a feed server and a webhook receiver on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT, LoopbackServer
from tests.daemon import monitor
from tests.test_end_to_end import accept

pytestmark = pytest.mark.integration
SECRET_PATH = "/services/T0001/B0002/s3cretT0kenXyz"


def write_settings(tmp_path: Path, server: LoopbackServer, database: str) -> Path:
    config = tmp_path / "settings.toml"
    config.write_text(
        f"""
[database]
url = "{database}"

[seeds]
path = "{ROOT / "seeds"}"

[ingest]
first_poll_window = "10000d"  # the fixture feed's entries date from 2022

[[feeds]]
name = "world"
url = "{server.url("/rss.xml")}"

[webhooks.newsroom]
url = "${{SLACK_WEBHOOK_URL}}"
format = "slack"

[[rules]]
name = "NATO summit"
query = "nato OR otan"
""",
        encoding="utf-8",
    )
    return config


# What each reading command shows of the cycle's alerts and feeds, with the webhook variable unset.
READING = [
    (["status"], "NATO summit"),
    (["feeds"], "world"),
    (["feeds", "--json"], '"status": "ok"'),
    (["alerts"], "newsroom: sent"),
    (["alerts", "--json"], '"webhook": "newsroom"'),
    (["rules", "backtest", "NATO summit"], "2 of 4 articles matched"),
    (["rules", "backtest", "NATO summit", "--json"], '"field": "title"'),
    (["db", "current"], "up to date"),
]


@pytest.mark.timeout(300)  # a dozen commands, each a new process: slow on a busy machine
def test_reading_commands_need_no_webhook_variable_but_run_and_check_do(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    database_url = f"sqlite:///{tmp_path / 'monitor.db'}"  # settings, not the database, are what is tried here
    loopback.serve_file("/rss.xml", FIXTURES / "feeds" / "rss2.xml")
    loopback.routes[SECRET_PATH] = accept
    config = write_settings(tmp_path, loopback, database_url)
    done = monitor("--config", str(config), "run", "--once", env={"SLACK_WEBHOOK_URL": loopback.url(SECRET_PATH)})
    assert done.returncode == 0, done.stderr
    assert len(loopback.received_on(SECRET_PATH)) == 2  # the seed article and the feed's NATO entry

    for command, shows in READING:  # SLACK_WEBHOOK_URL is not set from here on
        done = monitor("--config", str(config), *command)
        assert (done.returncode, done.stderr) == (0, ""), command
        assert shows in done.stdout, command
        assert "s3cret" not in done.stdout and "unset.invalid" not in done.stdout, command
        if "--json" in command:
            json.loads(done.stdout)

    for command in (["check"], ["run", "--once"]):
        done = monitor("--config", str(config), *command)
        assert (done.returncode, done.stdout) == (2, ""), command
        assert done.stderr == (
            f"error: {config}: webhooks.newsroom.url: environment variable SLACK_WEBHOOK_URL is not set (line 16)\n"
        )
    assert len(loopback.received_on(SECRET_PATH)) == 2  # nothing more was sent
