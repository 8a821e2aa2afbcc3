"""Load and validate ``settings.toml`` into frozen pydantic models.

Every problem is reported as ``FILE: KEY: message (line N)`` and raised as one ``ConfigError`` that lists them
all; nothing in the file, however malformed or deeply nested, gets further than that. String values may use
``${NAME}`` to take an environment variable, ``${NAME:-default}`` to fall back on a default when it is unset or
empty (``$${`` writes a literal ``${``). Durations are written ``"90s"``, ``"15m"``, ``"1h30m"``, ``"2d"`` (or a
number of seconds); every duration and number has a floor and a ceiling (``values``). Relative paths are relative
to the settings file; a relative SQLite file goes in ``$STATE_DIRECTORY`` instead where that is set (by systemd for
a unit with ``StateDirectory=``, and by the Docker image), since the settings' folder may be read-only.
``MONITOR_DATABASE_URL`` overrides ``[database] url``.
A rule's ``query``, ``any`` and ``exclude`` are checked with the rule language (``matching.rule``); each bad part
is reported under its own key. An unknown key is reported with the closest known one (``suggest``).

``load_settings(..., webhooks_needed=False)`` is for commands that send nothing: a webhook whose ``url`` or
``secret`` names an unset environment variable loads as unusable (``Settings.unusable_webhooks``) rather than
failing, so that reading the database needs no webhook secrets. ``run`` and ``check`` load with them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from monitor.errors import ConfigError, QueryError
from monitor.matching import Node, compile_rule, describe_rule, parse
from monitor.matching.query import exactly
from monitor.matching.rule import parse_entry
from monitor.settings.examples import check_examples
from monitor.settings.lines import problem
from monitor.settings.server import ServerSettings as ServerSettings
from monitor.settings.source import fill_in, read_toml
from monitor.settings.suggest import unknown_key
from monitor.settings.values import (
    FAST_POLLING,
    database_problem,
    http_url,
    number,
    parse_duration,
    within,
)
from monitor.settings.values import split_listen as split_listen  # where the tests import it from
from monitor.settings.webhook import WebhookSettings as WebhookSettings  # where the other wings import it from

DATABASE_URL_ENV = "MONITOR_DATABASE_URL"
STATE_DIRECTORY_ENV = "STATE_DIRECTORY"

PollInterval = Annotated[
    timedelta, within("10s", "7d", "polling a feed more often burdens its server", fast_floor="1s")
]
Count = Annotated[int, BeforeValidator(number)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(_Section):
    url: str = "sqlite:///monitor.db"

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        problem = database_problem(value)
        if problem:
            raise ValueError(problem)
        return value


class SchedulerSettings(_Section):
    poll_interval: PollInterval = timedelta(minutes=15)
    delivery_interval: Annotated[
        timedelta, within("1s", "1h", "looking for due deliveries more often only loads the database")
    ] = timedelta(seconds=10)
    allow_fast_polling: bool = False  # lowers the floor of poll intervals to 1 s, for feed servers of your own


class SeedsSettings(_Section):
    path: Path = Path("seeds")
    interval: Annotated[timedelta, within("1s", "1d")] = timedelta(minutes=1)
    enabled: bool = True

    @field_validator("path")
    @classmethod
    def _check_path(cls, value: Path) -> Path:
        if "\x00" in str(value):
            raise ValueError("a path cannot hold a NUL character")
        return value


class HttpSettings(_Section):
    timeout: Annotated[timedelta, within("1s", "5m")] = timedelta(seconds=20)
    max_bytes: Count = Field(default=15 * 1024 * 1024, ge=1, le=1024 * 1024 * 1024)
    max_connections: Count = Field(default=20, ge=1, le=1000)


class DeliverySettings(_Section):
    timeout: Annotated[timedelta, within("1s", "5m")] = timedelta(seconds=15)
    retry_delays: list[Annotated[timedelta, within("1s", "1d")]] = Field(
        default_factory=lambda: [parse_duration(d) for d in ("5s", "30s", "2m", "10m", "30m", "1h", "2h")],
        min_length=1,
        max_length=100,
    )
    give_up_after: Annotated[timedelta, within("1s", "30d")] = timedelta(hours=24)
    batch_size: Count = Field(default=100, ge=1, le=10_000)


class HealthSettings(_Section):
    alert_after: Annotated[timedelta, within("1s", "30d")] = timedelta(hours=6)
    silence_factor: Annotated[float, BeforeValidator(number)] = Field(default=4.0, gt=1, le=1000, allow_inf_nan=False)
    webhooks: list[str] = []


class IngestSettings(_Section):
    first_poll_window: Annotated[timedelta, within("1s", "36500d")] = timedelta(hours=24)
    story_window: Annotated[
        timedelta, within("1m", "30d", why_ceiling="the band keys of the window's articles are kept in memory")
    ] = timedelta(hours=48)
    # Characters of an article's text kept (after HTML is stripped): at least a title's worth, at most 2 million.
    max_text: Count = Field(default=200_000, ge=1_000, le=2_000_000)
    # Fetch the page of each new article that may alert and match its main text too (a feed's own key wins).
    full_text: bool = False
    # How long the alerts of a feed's new articles may wait for their pages; then they are matched on what they have.
    full_text_wait: Annotated[
        timedelta, within("1s", "5m", why_ceiling="an alert should not wait longer for its article's page")
    ] = timedelta(seconds=30)
    # The least time between two page requests to one host (robots.txt may ask for more, up to a minute).
    page_gap: Annotated[timedelta, within("100ms", "1m", "requesting pages faster burdens the site")] = timedelta(
        seconds=1
    )
    robots: bool = True  # honour each site's robots.txt for article pages


class LoggingSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"


class FeedSettings(_Section):
    name: str
    url: str
    interval: PollInterval | None = None
    full_text: bool | None = None  # fetch each new article's page; None follows [ingest] full_text

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return http_url(value)

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        return _check_name(value)


class RuleSettings(_Section):
    name: str
    query: str | None = None
    any: list[str] = []
    exclude: list[str] = []
    webhooks: list[str] | None = None
    delivery: Literal["immediate", "digest"] = "immediate"
    digest_every: Annotated[timedelta, within("1s", "7d")] = timedelta(hours=1)
    once_per_story: bool = True
    # How urgent the rule's alerts are, where a platform has priorities (ntfy).
    priority: Literal["min", "low", "default", "high", "max", "urgent"] | None = None
    # Whether a word matches its other forms in the article's language too (``=word`` asks for one exactly).
    forms: bool = True
    # Texts the rule must match, and texts it must not: checked when the settings are loaded (``examples.py``).
    examples: list[str] = []
    counterexamples: list[str] = []

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        return _check_name(value)

    def compile(self) -> Node:
        """Return the tree of the rule's query, alternatives and exclusions together (exact words if not ``forms``)."""
        tree = compile_rule(self.query, self.any, self.exclude)
        return tree if self.forms else exactly(tree)

    def describe(self) -> str:
        """Return the whole rule written as one readable query."""
        return describe_rule(self.query, self.any, self.exclude)


def _check_name(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


class Settings(_Section):
    path: Path = Path("settings.toml")
    database: DatabaseSettings = DatabaseSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    seeds: SeedsSettings = SeedsSettings()
    http: HttpSettings = HttpSettings()
    delivery: DeliverySettings = DeliverySettings()
    logging: LoggingSettings = LoggingSettings()
    server: ServerSettings = ServerSettings()
    health: HealthSettings = HealthSettings()
    ingest: IngestSettings = IngestSettings()
    feeds: list[FeedSettings] = []
    webhooks: dict[str, WebhookSettings] = {}
    rules: list[RuleSettings] = []
    # Webhooks loaded without their URL or secret (an unset variable, for a command that sends nothing): name, why.
    _unusable: Mapping[str, str] = PrivateAttr(default_factory=dict)

    def unusable_webhooks(self) -> Mapping[str, str]:
        """Return the webhooks that cannot be used, each with the reason (none when loaded for ``run``)."""
        return self._unusable

    def feed_interval(self, feed: FeedSettings) -> timedelta:
        """Return how often a feed is polled: its own interval, else the scheduler's default."""
        return feed.interval or self.scheduler.poll_interval

    def feed_full_text(self, feed: FeedSettings) -> bool:
        """Return whether the pages of a feed's new articles are fetched: its own key, else ``[ingest] full_text``."""
        return self.ingest.full_text if feed.full_text is None else feed.full_text

    def rule_webhooks(self, rule: RuleSettings) -> list[str]:
        """Return the names of the webhooks a rule's alerts go to (every webhook when it names none)."""
        return list(self.webhooks) if rule.webhooks is None else list(rule.webhooks)


def load_settings(path: Path, environ: Mapping[str, str], *, webhooks_needed: bool = True) -> Settings:
    """Return the validated settings read from ``path``; raise ConfigError listing every problem.

    Without ``webhooks_needed``, a webhook URL or secret from an unset variable makes the webhook unusable, not
    the settings invalid.
    """
    source, raw = read_toml(path)
    problems: list[str] = []

    def report(loc: tuple[str | int, ...], message: str) -> None:
        problems.append(problem(path, source, loc, message))

    data, unusable = fill_in(raw, environ, report, webhooks_needed)
    if problems:
        raise ConfigError(problems[0] if len(problems) == 1 else "\n".join(problems), problems)
    from_env = _set_database_url(data, environ, path)
    if "path" in data:
        problems.append(problem(path, source, ("path",), unknown_key(Settings, ("path",))))
    data["path"] = path.resolve()

    try:
        settings = Settings.model_validate(data, context={FAST_POLLING: _fast_polling(data)})
    except ValidationError as exc:
        for error in exc.errors():
            loc, message = tuple(error["loc"]), _message(error)
            if error["type"] == "extra_forbidden":
                problems.append(problem(path, source, loc, unknown_key(Settings, loc)))
            elif from_env and loc == ("database", "url"):
                problems.append(f"{path}: database.url: {message} (set by {DATABASE_URL_ENV})")
            else:
                problems.append(problem(path, source, loc, message))
        problems.extend(_check_valid_rules(data.get("rules"), path, source))
        raise ConfigError("\n".join(problems), problems) from None
    problems.extend(_check_references(settings, path, source))
    if problems:
        raise ConfigError("\n".join(problems), problems)
    loaded = settings.model_copy(update={"seeds": _resolve_seeds(settings.seeds, path, source)})
    loaded._unusable = unusable
    return loaded


def _set_database_url(data: dict[str, Any], environ: Mapping[str, str], path: Path) -> bool:
    """Put the database URL in force in ``data`` (the environment's wins); return whether it came from there."""
    database = data.setdefault("database", {})
    if not isinstance(database, dict):
        return False  # validation says what is wrong with it
    if environ.get(DATABASE_URL_ENV):
        database["url"] = environ[DATABASE_URL_ENV]
        return True
    url = database.get("url", DatabaseSettings().url)
    if isinstance(url, str):
        database["url"] = _relative_sqlite(url, partial(_sqlite_folder, path, environ))
    return False


def _sqlite_folder(path: Path, environ: Mapping[str, str]) -> Path:
    """Return the folder of a relative SQLite file: the first state directory systemd gives, else the settings'."""
    state = environ.get(STATE_DIRECTORY_ENV, "").split(":")[0]
    if not state:
        return path.parent
    if not Path(state).is_absolute():
        why = f"a relative SQLite file goes in ${STATE_DIRECTORY_ENV}, which must be an absolute path, not {state!r}"
        raise ConfigError(f"{path}: database.url: {why}")
    return Path(state)


def _fast_polling(data: dict[str, Any]) -> bool:
    """Return whether ``[scheduler] allow_fast_polling`` is on (validation reports a value that is not a bool)."""
    scheduler = data.get("scheduler")
    value = scheduler.get("allow_fast_polling", False) if isinstance(scheduler, dict) else False
    try:
        return TypeAdapter(bool).validate_python(value)
    except ValidationError:
        return False


def _message(error: Any) -> str:
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def _resolve_seeds(seeds: SeedsSettings, path: Path, source: str) -> SeedsSettings:
    folder = seeds.path if seeds.path.is_absolute() else (path.parent / seeds.path)
    try:
        resolved = folder.resolve()
        resolved.exists()  # raises for a path the system refuses (too long, for one) rather than saying no
    except (OSError, ValueError, RuntimeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(problem(path, source, ("seeds", "path"), f"cannot use this path: {reason}")) from None
    return seeds.model_copy(update={"path": resolved})


def _relative_sqlite(url: str, folder: Callable[[], Path]) -> str:
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return url
    file, _, query = url[len(prefix) :].partition("?")
    if not file or file == ":memory:" or Path(file).is_absolute():
        return url
    base = folder()  # outside the try: a bad $STATE_DIRECTORY is reported, not passed over
    try:
        resolved = (base / file).resolve()
    except (OSError, ValueError, RuntimeError):
        return url  # the database check says what is wrong with it
    return f"{prefix}{resolved}" + (f"?{query}" if query else "")


def _check_references(settings: Settings, path: Path, source: str) -> list[str]:
    problems: list[str] = []
    for kind, names in (("feeds", [f.name for f in settings.feeds]), ("rules", [r.name for r in settings.rules])):
        seen: set[str] = set()
        for index, name in enumerate(names):
            if name in seen:
                problems.append(problem(path, source, (kind, index, "name"), f"duplicate name {name!r}"))
            seen.add(name)
    for index, rule in enumerate(settings.rules):
        for name in rule.webhooks or []:
            if name not in settings.webhooks:
                known = ", ".join(sorted(settings.webhooks)) or "none is configured"
                message = f"rule {rule.name!r} names unknown webhook {name!r} (known: {known})"
                problems.append(problem(path, source, ("rules", index, "webhooks"), message))
        problems.extend(_check_rule(rule, index, path, source))
    for name in settings.health.webhooks:
        if name not in settings.webhooks:
            known = ", ".join(sorted(settings.webhooks)) or "none is configured"
            message = f"health alerts name unknown webhook {name!r} (known: {known})"
            problems.append(problem(path, source, ("health", "webhooks"), message))
    return problems


def _check_valid_rules(tables: object, path: Path, source: str) -> list[str]:
    """Return the query problems of the rule tables that are otherwise valid, when the file as a whole is not."""
    problems: list[str] = []
    for index, table in enumerate(tables if isinstance(tables, list) else []):
        try:
            rule = RuleSettings.model_validate(table)
        except ValidationError:
            continue  # already reported
        problems.extend(_check_rule(rule, index, path, source))
    return problems


def _check_rule(rule: RuleSettings, index: int, path: Path, source: str) -> list[str]:
    """Return the problems of one rule's query, alternatives and exclusions, each under its own key."""
    if rule.query is None and not rule.any and not rule.exclude:
        message = f"rule {rule.name!r} has nothing to match: give it a query, an any list or an exclude list"
        return [problem(path, source, ("rules", index), message)]
    checks: list[tuple[str, str, Callable[[], object]]] = []
    if rule.query is not None:
        checks.append(("query", "invalid query: ", partial(parse, rule.query)))
    for kind, entries in (("any", rule.any), ("exclude", rule.exclude)):
        for position, entry in enumerate(entries):
            checks.append((kind, "invalid entry ", partial(parse_entry, entry, f"{kind}[{position}]")))
    problems: list[str] = []
    for key, what, check in checks:
        try:
            check()
        except QueryError as exc:
            message = f"rule {rule.name!r}: {what}{exc.reason} at position {exc.position}"
            problems.append(problem(path, source, ("rules", index, key), message, exc.pointer()))
    if not problems:
        where = (path, source, index)
        problems.extend(check_examples(rule.name, rule.compile(), rule.examples, rule.counterexamples, where))
    return problems
