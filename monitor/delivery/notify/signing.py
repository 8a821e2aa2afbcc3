"""Standard Webhooks signatures (https://www.standardwebhooks.com) for the generic format.

A webhook with a ``secret`` gets three headers on every request:

- ``webhook-id``: the delivery's id, the same on every retry, so the receiver can drop duplicates;
- ``webhook-timestamp``: the attempt's time in whole seconds since the Unix epoch;
- ``webhook-signature``: ``v1,`` and the base64 HMAC-SHA256 of ``"{id}.{timestamp}.{body}"``.

The secret is written ``whsec_`` followed by the base64 key; the HMAC key is the decoded bytes, which the spec
wants between 24 and 64 bytes long. The signature covers the exact bytes posted (see ``body.encode``).
Signing is pure: the caller brings the clock's time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re

SECRET_PREFIX = "whsec_"
MIN_KEY_BYTES = 24
MAX_KEY_BYTES = 64

_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
# Header values cannot carry spaces or line breaks.
_MESSAGE_ID = re.compile(r"[!-~]+")


def validate_secret(secret: str) -> str | None:
    """Return why secret is not a usable ``whsec_`` signing secret, or None when it is."""
    if not secret.startswith(SECRET_PREFIX):
        return f"signing secret must start with {SECRET_PREFIX!r}"
    encoded = secret.removeprefix(SECRET_PREFIX)
    if not _BASE64.fullmatch(encoded):
        return f"signing secret must be {SECRET_PREFIX!r} followed by base64 (A-Z, a-z, 0-9, +, /)"
    try:
        key = _decode(encoded)
    except binascii.Error:
        return "signing secret is not valid base64"
    if not MIN_KEY_BYTES <= len(key) <= MAX_KEY_BYTES:
        return f"signing secret key must be {MIN_KEY_BYTES} to {MAX_KEY_BYTES} bytes, not {len(key)}"
    return None


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Return the webhook-id, webhook-timestamp and webhook-signature headers for body; raise ValueError."""
    problem = validate_secret(secret)
    if problem:
        raise ValueError(f"notify: {problem}")
    if not _MESSAGE_ID.fullmatch(message_id):
        raise ValueError(f"notify: webhook id {message_id!r} must be printable ASCII without spaces")
    if timestamp < 0:
        raise ValueError(f"notify: webhook timestamp {timestamp} is before 1970")
    key = _decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode("ascii") + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": "v1," + base64.b64encode(digest).decode("ascii"),
    }


def _decode(encoded: str) -> bytes:
    """Return the key bytes of a base64 text, padding it first if its ``=`` were left off."""
    return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
