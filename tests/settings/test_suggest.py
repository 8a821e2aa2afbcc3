from __future__ import annotations

import pytest

from monitor.settings.config import Settings
from monitor.settings.suggest import known_keys, unknown_key


@pytest.mark.parametrize(
    ("loc", "message"),
    [
        (("scheduler", "poll_intervall"), "unknown key 'poll_intervall' (did you mean 'poll_interval'?)"),
        (("scheduler", "Poll_Interval"), "unknown key 'Poll_Interval' (did you mean 'poll_interval'?)"),
        (("feed",), "unknown key 'feed' (did you mean 'feeds'?)"),
        (("webhook",), "unknown key 'webhook' (did you mean 'webhooks'?)"),
        (("feeds", 3, "nmae"), "unknown key 'nmae' (did you mean 'name'?)"),
        (("webhooks", "newsroom", "fromat"), "unknown key 'fromat' (did you mean 'format'?)"),
        (("webhooks", "newsroom", "secrets"), "unknown key 'secrets' (did you mean 'secret'?)"),
        (("rules", 0, "exlude"), "unknown key 'exlude' (did you mean 'exclude'?)"),
        (("rules", 0, "once_per_stories"), "unknown key 'once_per_stories' (did you mean 'once_per_story'?)"),
        (("delivery", "retry_delay"), "unknown key 'retry_delay' (did you mean 'retry_delays'?)"),
        (("server", "zzz"), "unknown key 'zzz' (known here: listen, token)"),
        (("path",), "unknown key 'path'"),  # set by the loader, never written in the file
    ],
)
def test_unknown_key_suggests_the_closest(loc: tuple[str | int, ...], message: str) -> None:
    assert unknown_key(Settings, loc).startswith(message)


@pytest.mark.parametrize(
    ("loc", "keys"),
    [
        (("seeds",), ["path", "interval", "enabled"]),
        (("feeds", 0), ["name", "url", "interval", "full_text"]),
        (
            ("webhooks", "any name"),
            ["format", "url", "secret", "room", "chat_id", "bot_email", "token", "stream", "topic"],
        ),
        (("health",), ["alert_after", "silence_factor", "webhooks"]),
        (("feeds",), []),  # a list, not a table
        (("nothing", "here"), []),
        (("scheduler", "poll_interval"), []),  # a value, not a table
    ],
)
def test_known_keys(loc: tuple[str | int, ...], keys: list[str]) -> None:
    assert known_keys(Settings, loc) == keys


def test_known_keys_of_the_file_leave_out_what_the_loader_sets() -> None:
    assert "path" not in known_keys(Settings, ())
    assert {"database", "feeds", "webhooks", "rules"} <= set(known_keys(Settings, ()))
