from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.ingest.article import ParsedArticle
from monitor.store.alerts import NewAlert
from monitor.store.outbox import Outbox
from monitor.store.storage import Storage

NOW = datetime.now(UTC)


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(f'[database]\nurl = "{database_url}"\n[seeds]\nenabled = false\n', encoding="utf-8")
    storage = Storage.open(database_url)
    outbox = Outbox(storage)
    with storage.transaction() as tx:
        for n, title in enumerate(["Sommet de l'Otan", "Bataille du Donbass"]):
            (stored,) = tx.save_new_articles([ParsedArticle(f"k{n}", "world", title, "texte")], NOW)
            tx.record_alerts([NewAlert(stored, f"rule {n}", "q", ("w",), "text", "s", ("chat", "ops"))], NOW)
    first, second = outbox.claim(NOW, timedelta(minutes=1), 10, webhook="chat")
    outbox.mark_sent([first.id], 200, NOW, "chat", "https://chat.test/hook/s3cret")
    outbox.mark_failed([second.id], "webhook 'chat': HTTP 404 from https://chat.test/…", 404, None)
    outbox.webhooks.note("chat", "https://chat.test/hook/s3cret", NOW, dead=3, error="webhook 'chat': HTTP 404")
    storage.close()
    return path


def test_alerts_lists_deliveries_and_troubled_webhooks(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(config), "alerts"]) == 0
    out = capsys.readouterr().out
    assert "[rule 1] Bataille du Donbass (world)" in out and "[rule 0] Sommet de l'Otan (world)" in out
    assert "chat: dead, 1 attempt — webhook 'chat': HTTP 404" in out
    assert "ops: pending, 0 attempts" in out
    assert "deliveries: 2 pending, 1 sent, 1 dead" in out
    assert "webhook 'chat' failing; 3 deliveries dead in a row" in out
    assert "s3cret" not in out


def test_alerts_json_and_status_filter(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(config), "alerts", "--json", "--status", "dead"]) == 0
    document = json.loads(capsys.readouterr().out)
    (alert,) = document["alerts"]
    assert alert["title"] == "Bataille du Donbass"
    assert {(d["webhook"], d["status"]) for d in alert["deliveries"]} == {("chat", "dead"), ("ops", "pending")}
    assert document["webhooks"][0]["name"] == "chat" and document["webhooks"][0]["consecutive_dead"] == 3


def test_alerts_retry(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(config), "alerts", "--json", "--status", "dead"]) == 0
    (alert,) = json.loads(capsys.readouterr().out)["alerts"]
    assert main(["--config", str(config), "alerts", "retry", str(alert["id"])]) == 0
    assert capsys.readouterr().out == "1 dead delivery put back in the queue\n"
    assert main(["--config", str(config), "alerts", "retry", "--dead"]) == 0
    assert capsys.readouterr().out == "0 dead deliveries put back in the queue\n"
    assert main(["--config", str(config), "alerts", "--status", "dead"]) == 0
    assert "no alerts with a dead delivery" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        (["999"], "error: alerts retry: no alert 999; nothing requeued\n"),
        (["{dead}", "999", "1000", "999"], "error: alerts retry: no alerts 999, 1000; nothing requeued\n"),
        (
            ["{dead}", *map(str, range(1000, 1012))],
            "error: alerts retry: no alerts 1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009 and 2 more;"
            " nothing requeued\n",
        ),
    ],
)
def test_alerts_retry_of_an_unknown_alert_exits_2_and_requeues_nothing(
    config: Path, capsys: pytest.CaptureFixture[str], ids: list[str], message: str
) -> None:
    assert main(["--config", str(config), "alerts", "--json", "--status", "dead"]) == 0
    (alert,) = json.loads(capsys.readouterr().out)["alerts"]
    argv = [i.format(dead=alert["id"]) for i in ids]
    assert main(["--config", str(config), "alerts", "retry", *argv]) == 2
    assert capsys.readouterr() == ("", message)
    assert main(["--config", str(config), "alerts", "--status", "dead", "--json"]) == 0
    assert [a["id"] for a in json.loads(capsys.readouterr().out)["alerts"]] == [alert["id"]]  # still dead


@pytest.mark.parametrize("argv", [["alerts", "retry"], ["alerts", "--status", "lost"], ["alerts", "--limit", "0"]])
def test_alerts_bad_arguments(config: Path, argv: list[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--config", str(config), *argv])
    assert caught.value.code == 2
