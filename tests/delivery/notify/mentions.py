"""How each chat platform finds mentions in the text it is sent, written after its published source or documentation.

Each model takes one string of a payload as posted and returns the mentions the platform would act on. They err on
the side of finding too much (every string is read by every model, usernames are anything a username could be), so
that a payload none of them finds anything in is inert wherever it is posted or quoted.

- Mattermost's server: ``server/channels/app/mention_parser_standard.go`` (mattermost/mattermost),
  ``StandardMentionParser.ProcessText`` and ``checkForMention``, run on the Markdown text of the message, the
  attachments' text and pretext and the field values (``getMentionsEnabledFields`` in
  ``server/channels/app/notification.go``), after ``expandAnnouncement`` and ``replaceUserIds``
  (``server/channels/app/slack.go``) turned ``<!channel>``, ``<!here>``, ``<!all>`` and ``<@id>`` into ``@``
  words.
- Mattermost's web app: ``AT_MENTION_PATTERN`` in ``webapp/channels/src/utils/text_formatting.tsx``
  (``autolinkAtMentions``), ``/(?:\\B|\\b_+)@([a-z0-9.\\-_]+)/gi`` with JavaScript's ASCII ``\\b``, run on each
  text token of the Markdown: a backslash escape or a mark such as ``_`` or ``*`` starts a new token.
- Slack: https://api.slack.com/reference/surfaces/formatting (Escaping text; Mentioning users, groups and
  special mentions): ``&``, ``<`` and ``>`` are control characters, and ``<!here>``, ``<!channel>``,
  ``<!everyone>``, ``<!subteam^ID>``, ``<@U…>`` and ``<#C…>`` are the mentions.
- Discord: https://discord.com/developers/docs/reference#message-formatting (``<@id>``, ``<@!id>``, ``<@&id>``,
  ``<#id>``, ``</name:id>``) and ``@everyone`` / ``@here`` (allowed mentions,
  https://discord.com/developers/docs/resources/message#allowed-mentions-object); a backslash makes the
  character after it literal.
- Microsoft Teams: https://learn.microsoft.com/en-us/microsoftteams/platform/task-modules-and-cards/cards/cards-format
  (Mention support within Adaptive Cards): ``<at>name</at>`` in the text together with a ``mention`` entity in
  ``msteams.entities``.
- Google Chat: https://developers.google.com/workspace/chat/format-messages (``<users/{user}>`` and
  ``<users/all>`` in a message's text).
"""

from __future__ import annotations

import html
import re
import unicodedata
from typing import Any

_SYSTEM = frozenset({"@here", "@channel", "@all"})
# Mattermost usernames: a letter, then letters, digits, ".", "-" and "_" (model.IsValidUsername).
_USERNAME = re.compile(r"@[a-z][a-z0-9._-]*", re.IGNORECASE | re.ASCII)
_ANNOUNCEMENT = re.compile(r"<!(channel|here|all)>")
_USER_ID = re.compile(r"<@([a-zA-Z0-9]+)>")
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_WEB_APP = re.compile(r"(?:\B|\b_+)@([a-z0-9.\-_]+)", re.IGNORECASE | re.ASCII)
# marked's text rule stops before these, and an escape's character is written out of any text token.
_TOKEN_BREAK = re.compile(r"\\[!-/:-@\[-`{-~]|(?=[\\<!\[`*~_])")
_SLACK = re.compile(r"<[!@#]")
_DISCORD = re.compile(r"<@[!&]?\d+>|<#\d+>|</[^\s:>]+:\d+>|@(?:everyone|here)", re.IGNORECASE)
_TEAMS = re.compile(r"<at[\s>]", re.IGNORECASE)
_GOOGLE_CHAT = re.compile(r"<users/", re.IGNORECASE)


def mattermost_server(text: str) -> list[str]:
    """Return the words Mattermost's server would notify for in text (channel-wide and user mentions)."""
    text = _USER_ID.sub(r"@\1", _ANNOUNCEMENT.sub(r"@\1", text))
    text = html.unescape(_ESCAPE.sub(r"\1", text))
    found: list[str] = []
    for word in _fields(text):
        if word[0] == ":" and word[-1] == ":":
            continue
        word = word.lstrip(":.-_")
        candidates = [word]
        stripped = word
        while stripped and stripped[-1] in ".-:_":
            stripped = stripped[:-1]
            candidates.append(stripped)
        candidates += [part for part in re.split(r"[.\-:]", word) if part]
        found += [c for c in dict.fromkeys(candidates) if c.lower() in _SYSTEM or _USERNAME.fullmatch(c)]
    return found


def _fields(text: str) -> list[str]:
    """Return text split as Go's strings.FieldsFunc does in ProcessText: on all but letters, numbers and :.-_@."""
    words, word = [], []
    for c in text:
        if c in ":.-_@" or c.isalpha() or unicodedata.category(c).startswith("N"):
            word.append(c)
        elif word:
            words.append("".join(word))
            word = []
    if word:
        words.append("".join(word))
    return words


def mattermost_web_app(text: str) -> list[str]:
    """Return the mentions Mattermost's web app would render in text, token by token and whole."""
    tokens = [token for token in _TOKEN_BREAK.split(text) if token]
    pieces = [*tokens, *(html.unescape(token) for token in tokens), html.unescape(_ESCAPE.sub(r"\1", text))]
    return list(dict.fromkeys(match.group() for piece in pieces for match in _WEB_APP.finditer(piece)))


def slack(text: str) -> list[str]:
    """Return the Slack mention syntax (``<!here>``, ``<@U1>``, ``<#C1>``...) left live in text."""
    return _SLACK.findall(text)


def discord(text: str) -> list[str]:
    """Return the Discord mentions in text, a backslash-escaped character taking part in none."""
    return _DISCORD.findall(re.sub(r"\\.", "\x00", text))


def teams(text: str) -> list[str]:
    """Return the ``<at>`` tags in text (they mention only with an entity, which the tests check apart)."""
    return _TEAMS.findall(text)


def google_chat(text: str) -> list[str]:
    """Return the ``<users/...>`` mentions in text."""
    return _GOOGLE_CHAT.findall(text)


MODELS = {
    "mattermost server": mattermost_server,
    "mattermost web app": mattermost_web_app,
    "slack": slack,
    "discord": discord,
    "teams": teams,
    "google chat": google_chat,
}


def live(payload: Any) -> list[tuple[str, str, str]]:
    """Return (model, mention, text) for every mention any platform would find in any text of a payload."""
    return [(name, hit, text) for text in texts(payload) for name, model in MODELS.items() for hit in model(text)]


def texts(value: Any, key: str = "") -> list[str]:
    """Return every string inside a JSON-like value but links (``url`` values) and Teams' schema address."""
    if isinstance(value, str):
        return [] if key in ("url", "$schema") else [value]
    if isinstance(value, dict):
        return [s for k, item in value.items() for s in texts(item, k)]
    if isinstance(value, list | tuple):
        return [s for item in value for s in texts(item, key)]
    return []


def teams_entities(payload: Any) -> list[Any]:
    """Return every ``entities`` list in a payload (Teams mentions need one)."""
    if isinstance(payload, dict):
        own = [payload["entities"]] if "entities" in payload else []
        return own + [e for item in payload.values() for e in teams_entities(item)]
    if isinstance(payload, list):
        return [e for item in payload for e in teams_entities(item)]
    return []
