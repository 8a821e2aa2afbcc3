"""Watching the daemon: feed health alerts, metrics, the ``/healthz`` server, logs, progress bars, memory."""
