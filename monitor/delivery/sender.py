"""One request to a webhook: send a payload within a total deadline, and what came of it.

``send`` makes the request the webhook's format describes (``notify.Format.request``: a JSON POST to the URL
for the webhook formats; a PUT to a Matrix room, a Telegram ``sendMessage``...), signed when the webhook has a
secret and carrying the delivery's stable ``webhook-id``, reads at most ``ANSWER_BYTES`` of the answer, and
returns an ``Outcome``: a 2xx answer is success; 400, 401, 403, 404 and 410 are permanent; anything else,
timeouts and connection errors included, may be retried, never before the wait the answer asked for (a
``Retry-After`` header, or the format's field in a 429's body). An error names the server only and quotes the
answer redacted first, then cut: no URL, token or path of a request ever shows in it.

A format that needs a lookup before its first send (a Matrix room alias) makes it once per process, within the
same deadline; what it found is kept (``_FOUND``) until a send to it is refused for good, and a failed lookup is
the outcome of the send.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from monitor.delivery import destination, notify, pacing
from monitor.delivery.notify.signing import sign
from monitor.observe.logs import excerpt, safe_url, secrets_of
from monitor.settings.config import WebhookSettings

PERMANENT = frozenset({400, 401, 403, 404, 410})


@dataclass(frozen=True)
class Outcome:
    """What a webhook made of one request."""

    status: int | None
    error: str | None = None
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        """Return whether the webhook accepted the request (any 2xx)."""
        return self.status is not None and 200 <= self.status < 300

    @property
    def permanent(self) -> bool:
        """Return whether retrying cannot help (the URL is wrong, gone or forbidden)."""
        return self.status in PERMANENT


ANSWER_BYTES = 4096  # of a webhook's answer read at most; more is dropped unread
ERROR_DETAIL = 200  # characters of the answer quoted in an error


def send(
    client: httpx.Client,
    name: str,
    webhook: WebhookSettings,
    body: dict[str, object],
    message_id: str,
    deadline: float,
) -> tuple[Outcome, httpx.Response | None]:
    """Send one payload to one webhook within ``deadline`` seconds in total; return what came of it.

    The error of a failed request quotes at most ``ERROR_DETAIL`` characters of the answer, redacted before it is
    cut (``excerpt``): the URL, every part of it, the tokens and the signing secret never reach the logs or the
    database.
    """
    spec = notify.get(webhook.format)
    exchange = _Exchange(client, name, safe_url(webhook.url.get_secret_value()), secrets_of([webhook]), deadline)
    given = destination.target(webhook)
    target, failed = _looked_up(exchange, spec, given)
    if failed is not None:
        return failed, None
    request = spec.request(target, message_id, body)
    headers = {**request.headers, "webhook-id": message_id}
    if webhook.secret is not None:
        headers.update(sign(webhook.secret.get_secret_value(), message_id, int(time.time()), request.content))
    params = dict(spec.query_params) or None
    outcome, response, text = exchange.make(
        request.method, request.url, request.content, headers, params, spec.success_statuses
    )
    if response is None or outcome.error is None:
        return outcome, response
    if outcome.permanent and target != given:
        forget_lookups(given)  # the alias may lead elsewhere now: look it up again next time
    retry_after = pacing.asked_wait(response, datetime.now(UTC))
    if response.status_code == 429 and spec.retry_after is not None:
        asked = spec.retry_after(text)
        if asked is not None:
            retry_after = max(retry_after or 0.0, pacing.seconds(asked))
    return Outcome(outcome.status, outcome.error, retry_after), response


@dataclass(frozen=True)
class _Exchange:
    """One send's requests to a webhook's server: under one deadline, their errors redacted alike."""

    client: httpx.Client
    name: str
    where: str  # the server, as errors name it
    secrets: list[str]
    deadline: float
    started: float = field(default_factory=time.monotonic)

    def make(
        self,
        method: str,
        url: str,
        content: bytes,
        headers: dict[str, str],
        params: dict[str, str] | None = None,
        success: frozenset[int] = notify.SUCCESS,
    ) -> tuple[Outcome, httpx.Response | None, str]:
        """Make one request within what is left of the deadline; return its outcome, the answer and its text."""
        name, where = self.name, self.where
        # What signs a request in is a secret in every form, the encoded one too (Zulip's basic credentials).
        credentials = [v for k, v in headers.items() if k.lower() == "authorization"]
        secrets = [*self.secrets, *credentials, *(c.partition(" ")[2] for c in credentials)]
        left = max(self.deadline - (time.monotonic() - self.started), 0.001)
        try:
            with self.client.stream(
                method, url, content=content, params=params, headers=headers, timeout=left, follow_redirects=False
            ) as response:
                answer = _read_answer(response, self.started, self.deadline)
        except httpx.TimeoutException:
            return Outcome(None, f"webhook '{name}': no answer from {where} within {self.deadline:g} s"), None, ""
        except httpx.HTTPError as exc:
            detail = excerpt(f"{type(exc).__name__}: {exc}", secrets, ERROR_DETAIL, public=[name])
            return Outcome(None, f"webhook '{name}': request to {where} failed: {detail}"), None, ""
        text = answer[:ANSWER_BYTES].decode("utf-8", "replace")
        if response.status_code in success:
            return Outcome(response.status_code), response, text
        detail = excerpt(text, secrets, ERROR_DETAIL, cut_short=len(answer) > ANSWER_BYTES, public=[name])
        error = f"webhook '{name}': HTTP {response.status_code} from {where}" + (f": {detail}" if detail else "")
        return Outcome(response.status_code, error), response, text


# What the lookups of this process found: a format's target as the settings give it, completed.
_FOUND: dict[tuple[str, notify.Target], notify.Target] = {}
_FOUND_LOCK = threading.Lock()


def _looked_up(exchange: _Exchange, spec: notify.Format, target: notify.Target) -> tuple[notify.Target, Outcome | None]:
    """Return the target completed by the format's lookup (made once per process), or the lookup's failure."""
    lookup = spec.lookup.request(target) if spec.lookup is not None else None
    if spec.lookup is None or lookup is None:
        return target, None
    key = (lookup.url, target)
    with _FOUND_LOCK:
        found = _FOUND.get(key)
    if found is not None:
        return found, None
    outcome, response, text = exchange.make(lookup.method, lookup.url, lookup.content, dict(lookup.headers))
    if not outcome.ok or response is None:
        return target, outcome
    completed = spec.lookup.apply(target, text)
    if completed is None:
        detail = f"webhook '{exchange.name}': {exchange.where} answered the lookup of {target.room} with no usable id"
        return target, Outcome(None, detail)
    with _FOUND_LOCK:
        _FOUND[key] = completed
    return completed, None


def forget_lookups(target: notify.Target | None = None) -> None:
    """Forget what the lookups found for target (for every target without one): the next send looks again."""
    with _FOUND_LOCK:
        for key in [key for key in _FOUND if target is None or key[1] == target]:
            del _FOUND[key]


def _read_answer(response: httpx.Response, started: float, deadline: float) -> bytes:
    """Return the first ``ANSWER_BYTES`` bytes of the answer, and one more when there are more; stop reading there."""
    answer = bytearray()
    for chunk in response.iter_bytes():
        answer.extend(chunk[: ANSWER_BYTES + 1 - len(answer)])
        if len(answer) > ANSWER_BYTES:
            break
        if time.monotonic() - started > deadline:
            raise httpx.ReadTimeout("total deadline exceeded")
    return bytes(answer)
