"""Load and validate ``settings.toml`` into frozen pydantic models.

Every problem is reported as ``FILE: KEY: message (line N)`` and raised as one ``ConfigError`` that lists them
all. String values may use ``${NAME}`` to take an environment variable, ``${NAME:-default}`` to fall back on a default
when it is unset or empty (``$${`` writes a literal ``${``).
Durations are written ``"90s"``, ``"15m"``, ``"1h30m"``, ``"2d"`` (or a number of seconds). Relative paths,
including a relative SQLite file, are relative to the settings file. ``MONITOR_DATABASE_URL`` overrides
``[database] url``. A rule's ``query``, ``any`` and ``exclude`` are checked with the rule language
(``matching.rule``); each bad part is reported under its own key.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from monitor.delivery.notify.signing import validate_secret
from monitor.errors import ConfigError, QueryError
from monitor.matching import Node, compile_rule, describe_rule, parse
from monitor.matching.rule import parse_entry
from monitor.settings.lines import problem

DATABASE_URL_ENV = "MONITOR_DATABASE_URL"
FORMATS = ("slack", "mattermost", "discord", "teams", "googlechat", "generic")

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)", re.IGNORECASE)
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_ENV_REF = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def parse_duration(value: object) -> timedelta:
    """Return the timedelta written as ``"30s"``, ``"15m"``, ``"1h30m"``, or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError('expected a duration such as "30s", "15m" or "1h"')
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        parts = list(_DURATION_PART.finditer(text))
        if not text or not parts or "".join(p.group(0) for p in parts) != text:
            raise ValueError(f'invalid duration {value!r}: write it like "30s", "15m", "1h30m" or "2d"')
        seconds = sum(float(p.group(1)) * _UNIT_SECONDS[p.group(2).lower()] for p in parts)
    else:
        raise ValueError('expected a duration such as "30s", "15m" or "1h"')
    if seconds <= 0:
        raise ValueError(f"duration {value!r} must be positive")
    return timedelta(seconds=seconds)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError("must be an http:// or https:// URL")
    return value


class DatabaseSettings(_Section):
    url: str = "sqlite:///monitor.db"


class SchedulerSettings(_Section):
    poll_interval: Duration = timedelta(minutes=15)
    delivery_interval: Duration = timedelta(seconds=10)


class SeedsSettings(_Section):
    path: Path = Path("seeds")
    interval: Duration = timedelta(minutes=1)
    enabled: bool = True


class HttpSettings(_Section):
    timeout: Duration = timedelta(seconds=20)
    max_bytes: int = Field(default=15 * 1024 * 1024, gt=0)
    max_connections: int = Field(default=20, gt=0, le=1000)


class DeliverySettings(_Section):
    timeout: Duration = timedelta(seconds=15)
    retry_delays: list[Duration] = Field(
        default_factory=lambda: [parse_duration(d) for d in ("5s", "30s", "2m", "10m", "30m", "1h", "2h")],
        min_length=1,
    )
    give_up_after: Duration = timedelta(hours=24)
    batch_size: int = Field(default=100, gt=0)


class HealthSettings(_Section):
    alert_after: Duration = timedelta(hours=6)
    silence_factor: float = Field(default=4.0, gt=1)
    webhooks: list[str] = []


class IngestSettings(_Section):
    first_poll_window: Duration = timedelta(hours=24)
    story_window: Duration = timedelta(hours=48)
    # Characters of an article's text kept (after HTML is stripped): at least a title's worth, at most 2 million.
    max_text: int = Field(default=200_000, ge=1_000, le=2_000_000)


class LoggingSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"


def split_listen(listen: str) -> tuple[str, int]:
    """Return the host and port of ``host:port`` (``[::1]:9108`` for IPv6); raise ValueError if malformed."""
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"expected host:port, such as 127.0.0.1:9108 or [::1]:9108, got {listen!r}")
    if host.startswith("[") != host.endswith("]"):
        raise ValueError(f"unbalanced brackets in {listen!r}")
    if host.startswith("["):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"write an IPv6 address in brackets, such as [::1]:9108, got {listen!r}")
    if not host or int(port) > 65535:
        raise ValueError(f"expected host:port with a port up to 65535, got {listen!r}")
    return host, int(port)


def _listen(value: str | None) -> str | None:
    if value is not None:
        split_listen(value)
    return value


class ServerSettings(_Section):
    listen: Annotated[str | None, AfterValidator(_listen)] = None


class FeedSettings(_Section):
    name: str
    url: str
    interval: Duration | None = None

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return _http_url(value)

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        return _check_name(value)


class WebhookSettings(_Section):
    url: SecretStr
    format: Literal["slack", "mattermost", "discord", "teams", "googlechat", "generic"]
    secret: SecretStr | None = None

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: SecretStr) -> SecretStr:
        if not re.match(r"^https?://[^/\s]+", value.get_secret_value()):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("secret")
    @classmethod
    def _check_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            problem = validate_secret(value.get_secret_value())
            if problem:
                raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _secret_signs_generic_only(self) -> WebhookSettings:
        if self.secret is not None and self.format != "generic":
            raise ValueError(f"a signing secret applies to the generic format only, not {self.format!r}")
        return self


class RuleSettings(_Section):
    name: str
    query: str | None = None
    any: list[str] = []
    exclude: list[str] = []
    webhooks: list[str] | None = None
    delivery: Literal["immediate", "digest"] = "immediate"
    digest_every: Duration = timedelta(hours=1)
    once_per_story: bool = True

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        return _check_name(value)

    def compile(self) -> Node:
        """Return the tree of the rule's query, alternatives and exclusions together."""
        return compile_rule(self.query, self.any, self.exclude)

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

    def feed_interval(self, feed: FeedSettings) -> timedelta:
        """Return how often a feed is polled: its own interval, else the scheduler's default."""
        return feed.interval or self.scheduler.poll_interval

    def rule_webhooks(self, rule: RuleSettings) -> list[str]:
        """Return the names of the webhooks a rule's alerts go to (every webhook when it names none)."""
        return list(self.webhooks) if rule.webhooks is None else list(rule.webhooks)


def load_settings(path: Path, environ: Mapping[str, str]) -> Settings:
    """Return the validated settings read from ``path``; raise ConfigError listing every problem."""
    try:
        source = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: settings file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read settings file: {exc}") from None
    try:
        raw = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: TOML syntax error: {exc}") from None

    problems: list[str] = []
    data = _interpolate(raw, environ, (), lambda loc, msg: problems.append(problem(path, source, loc, msg)))
    if problems:
        raise ConfigError(problems[0] if len(problems) == 1 else "\n".join(problems), problems)
    if not isinstance(data, dict):  # pragma: no cover - tomllib always returns a table
        raise ConfigError(f"{path}: the file must be a TOML table")
    if environ.get(DATABASE_URL_ENV):
        data.setdefault("database", {})
        data["database"]["url"] = environ[DATABASE_URL_ENV]
    elif "database" in data and isinstance(data["database"], dict) and "url" in data["database"]:
        data["database"]["url"] = _relative_sqlite(str(data["database"]["url"]), path.parent)
    else:
        data["database"] = {**data.get("database", {}), "url": _relative_sqlite(DatabaseSettings().url, path.parent)}
    if "path" in data:
        problems.append(problem(path, source, ("path",), "Extra inputs are not permitted"))
    data["path"] = path.resolve()

    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            problems.append(problem(path, source, tuple(error["loc"]), _message(error)))
        problems.extend(_check_valid_rules(data.get("rules"), path, source))
        raise ConfigError("\n".join(problems), problems) from None
    problems.extend(_check_references(settings, path, source))
    if problems:
        raise ConfigError("\n".join(problems), problems)
    return settings.model_copy(update={"seeds": _resolve_seeds(settings.seeds, path.parent)})


def _message(error: Any) -> str:
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def _resolve_seeds(seeds: SeedsSettings, base: Path) -> SeedsSettings:
    path = seeds.path if seeds.path.is_absolute() else (base / seeds.path)
    return seeds.model_copy(update={"path": path.resolve()})


def _relative_sqlite(url: str, base: Path) -> str:
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return url
    file, _, query = url[len(prefix) :].partition("?")
    if not file or file == ":memory:" or Path(file).is_absolute():
        return url
    resolved = (base / file).resolve()
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
    return problems


def _interpolate(value: Any, environ: Mapping[str, str], loc: tuple[str | int, ...], report: Any) -> Any:
    if isinstance(value, dict):
        return {k: _interpolate(v, environ, (*loc, k), report) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, environ, (*loc, i), report) for i, v in enumerate(value)]
    if not isinstance(value, str) or "$" not in value:
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        name, default = match.group(1), match.group(2)
        if default is not None and not environ.get(name):
            return default
        if name not in environ:
            report(loc, f"environment variable {name} is not set")
            return ""
        return environ[name]

    return _ENV_REF.sub(substitute, value)
