"""One request to a webhook: POST a payload within a total deadline, and what came of it.

``send`` posts the encoded payload (signed when the webhook has a secret, with the delivery's stable
``webhook-id``), reads at most ``ANSWER_BYTES`` of the answer, and returns an ``Outcome``: a 2xx answer is
success; 400, 401, 403, 404 and 410 are permanent; anything else, timeouts and connection errors included, may be
retried, never before the wait the answer asked for. An error quotes the answer redacted first, then cut.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from monitor.delivery import notify, pacing
from monitor.delivery.notify.body import encode
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
    """POST one payload to one webhook within ``deadline`` seconds in total; return what came of it.

    The error of a failed request quotes at most ``ERROR_DETAIL`` characters of the answer, redacted before it is
    cut (``excerpt``): the URL, every part of it and the signing secret never reach the logs or the database.
    """
    url = webhook.url.get_secret_value()
    secrets = secrets_of([webhook])
    spec = notify.get(webhook.format)
    content = encode(body)
    headers = {"Content-Type": "application/json", "webhook-id": message_id}
    if webhook.secret is not None:
        headers.update(sign(webhook.secret.get_secret_value(), message_id, int(time.time()), content))
    params = dict(spec.query_params) or None
    where = safe_url(url)
    started = time.monotonic()
    try:
        with client.stream(
            "POST", url, content=content, params=params, headers=headers, timeout=deadline, follow_redirects=False
        ) as response:
            answer = _read_answer(response, started, deadline)
    except httpx.TimeoutException:
        return Outcome(None, f"webhook '{name}': no answer from {where} within {deadline:g} s"), None
    except httpx.HTTPError as exc:
        detail = excerpt(f"{type(exc).__name__}: {exc}", secrets, ERROR_DETAIL, public=[name])
        return Outcome(None, f"webhook '{name}': request to {where} failed: {detail}"), None
    if response.status_code in spec.success_statuses:
        return Outcome(response.status_code), response
    text = answer[:ANSWER_BYTES].decode("utf-8", "replace")
    retry_after = pacing.asked_wait(response, datetime.now(UTC))
    if webhook.format == "discord" and response.status_code == 429:
        retry_after = max(retry_after or 0.0, _discord_retry_after(text))
    detail = excerpt(text, secrets, ERROR_DETAIL, cut_short=len(answer) > ANSWER_BYTES, public=[name])
    error = f"webhook '{name}': HTTP {response.status_code} from {where}" + (f": {detail}" if detail else "")
    return Outcome(response.status_code, error, retry_after), response


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


def _discord_retry_after(text: str) -> float:
    try:
        value = json.loads(text).get("retry_after", 0)
    except (ValueError, AttributeError, RecursionError):
        return 0.0
    return pacing.seconds(value) if isinstance(value, int | float) else 0.0
