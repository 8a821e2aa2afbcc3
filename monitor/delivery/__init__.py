"""Sending alerts: the dispatcher (claim, send, retry, pace) and ``notify/``, one renderer per chat platform."""
