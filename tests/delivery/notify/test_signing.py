from __future__ import annotations

import base64
import time
from collections.abc import Callable

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from monitor.delivery.notify import generic, render_digest
from monitor.delivery.notify.body import encode
from monitor.delivery.notify.signing import sign, validate_secret

from .alerts import HOSTILE, NORMAL

SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()
OTHER_SECRET = "whsec_" + base64.b64encode(bytes(range(1, 33))).decode()
# The example in the Standard Webhooks specification.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_spec_example() -> None:
    headers = sign(SPEC_SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')
    assert headers == {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }


@pytest.mark.parametrize(
    "payload",
    [generic.render(NORMAL), generic.render(HOSTILE), *render_digest("generic", [NORMAL, HOSTILE], "Otan", "1h")],
    ids=["normal", "hostile", "digest"],
)
@pytest.mark.parametrize("secret", [SECRET, SECRET.rstrip("="), SPEC_SECRET], ids=["padded", "unpadded", "spec"])
def test_receiver_verifies(payload: dict[str, object], secret: str) -> None:
    body = encode(payload)
    headers = sign(secret, "dlv_0123456789abcdef", int(time.time()), body)
    assert Webhook(secret).verify(body, headers) == payload


Tamper = Callable[[bytes, dict[str, str]], tuple[bytes, dict[str, str]]]


@pytest.mark.parametrize(
    ("secret", "tamper", "age"),
    [
        (OTHER_SECRET, lambda b, h: (b, h), 0),
        (SECRET, lambda b, h: (b.replace(b'"id":42', b'"id":43'), h), 0),
        (SECRET, lambda b, h: (b + b" ", h), 0),
        (SECRET, lambda b, h: (b, {**h, "webhook-id": "dlv_other"}), 0),
        (SECRET, lambda b, h: (b, {**h, "webhook-timestamp": str(int(h["webhook-timestamp"]) + 1)}), 0),
        (SECRET, lambda b, h: (b, {**h, "webhook-signature": h["webhook-signature"].replace("v1,", "v2,")}), 0),
        (SECRET, lambda b, h: (b, h), 3600),
    ],
    ids=["wrong-secret", "other-body", "trailing-space", "other-id", "other-time", "unknown-version", "stale"],
)
def test_receiver_rejects(secret: str, tamper: Tamper, age: int) -> None:
    body = encode(generic.render(NORMAL))
    headers = sign(SECRET, "dlv_0123456789abcdef", int(time.time()) - age, body)
    sent, received = tamper(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(sent, received)


def test_retry_keeps_the_id() -> None:
    body = encode(generic.render(NORMAL))
    first = sign(SECRET, "dlv_42", 1_700_000_000, body)
    retry = sign(SECRET, "dlv_42", 1_700_000_060, body)
    assert first["webhook-id"] == retry["webhook-id"] == "dlv_42"
    assert first["webhook-signature"] != retry["webhook-signature"]
    assert sign(SECRET, "dlv_42", 1_700_000_000, body) == first


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        (SECRET, None),
        (SECRET.rstrip("="), None),
        (SPEC_SECRET, None),
        ("whsec_" + base64.b64encode(b"k" * 64).decode(), None),
        (SECRET.removeprefix("whsec_"), "must start with 'whsec_'"),
        ("WHSEC_" + SECRET.removeprefix("whsec_"), "must start with 'whsec_'"),
        ("whsec_", "followed by base64"),
        ("whsec_ " + SECRET.removeprefix("whsec_"), "followed by base64"),
        (SECRET + "\n", "followed by base64"),
        ("whsec_abc-_def" + "A" * 30, "followed by base64"),
        ("whsec_abcde", "not valid base64"),
        ("whsec_" + base64.b64encode(b"k" * 23).decode(), "24 to 64 bytes, not 23"),
        ("whsec_" + base64.b64encode(b"k" * 65).decode(), "24 to 64 bytes, not 65"),
    ],
    ids=[
        "padded",
        "unpadded",
        "spec",
        "64-bytes",
        "no-prefix",
        "upper-prefix",
        "empty",
        "space",
        "newline",
        "url-alphabet",
        "bad-length",
        "short",
        "long",
    ],
)
def test_validate_secret(secret: str, problem: str | None) -> None:
    found = validate_secret(secret)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


@pytest.mark.parametrize(
    ("secret", "message_id", "timestamp", "error"),
    [
        ("nope", "dlv_1", 1, "must start with 'whsec_'"),
        (SECRET, "", 1, "printable ASCII"),
        (SECRET, "dlv 1", 1, "printable ASCII"),
        (SECRET, "dlv_1\r\nx-evil: 1", 1, "printable ASCII"),
        (SECRET, "dlv_é", 1, "printable ASCII"),
        (SECRET, "dlv_1", -1, "before 1970"),
    ],
)
def test_sign_refuses(secret: str, message_id: str, timestamp: int, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        sign(secret, message_id, timestamp, b"{}")
