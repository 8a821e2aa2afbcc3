"""``monitor alerts``: list alerts with their deliveries; ``monitor alerts retry ID|--dead`` requeues dead ones.

``alerts retry ID ...`` checks every ID first: one that names no alert exits 2, naming it, and requeues nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

from monitor.commands import EXIT_BAD_INPUT, EXIT_OK, Context, positive, with_storage
from monitor.store.outbox import STATUSES, AlertView, Outbox
from monitor.store.storage import Storage
from monitor.store.webhooks import WebhookHealth
from monitor.words import count

_LISTED = 10  # missing alert ids named in an error, at most


def register(commands: Any) -> None:
    """Add the ``alerts`` command and its ``retry`` action."""
    alerts = commands.add_parser("alerts", help="list alerts and their deliveries; retry dead ones")
    alerts.add_argument("--status", choices=STATUSES, help="only alerts with a delivery in this status")
    alerts.add_argument("--limit", metavar="N", type=positive, default=50, help="at most N alerts (default: 50)")
    alerts.add_argument("--json", action="store_true", help="print JSON instead of text")
    alerts.set_defaults(handler=handle_list, needs_settings=True, needs_webhooks=False)
    actions = alerts.add_subparsers(dest="action", metavar="ACTION")
    retry = actions.add_parser("retry", help="put dead deliveries back in the queue")
    which = retry.add_mutually_exclusive_group(required=True)
    which.add_argument("ids", metavar="ID", nargs="*", type=positive, default=[], help="alert ids")
    which.add_argument("--dead", action="store_true", help="every dead delivery")
    retry.set_defaults(handler=handle_retry, needs_settings=True, needs_webhooks=False)


def handle_list(args: argparse.Namespace, context: Context) -> int:
    """Print the newest alerts with their deliveries, and webhooks whose deliveries keep dying."""
    return with_storage(context, lambda storage: _list(Outbox(storage), args.status, args.limit, args.json))


def handle_retry(args: argparse.Namespace, context: Context) -> int:
    """Requeue the dead deliveries of the given alerts (or all of them)."""
    if not args.dead and not args.ids:
        print("error: alerts retry: give alert IDs or --dead", file=sys.stderr)
        return EXIT_BAD_INPUT

    def retry(storage: Storage) -> int:
        outbox = Outbox(storage)
        missing = [] if args.dead else outbox.missing_alerts(args.ids)
        if missing:
            names = ", ".join(str(alert_id) for alert_id in missing[:_LISTED])
            names += f" and {len(missing) - _LISTED} more" if len(missing) > _LISTED else ""
            print(
                f"error: alerts retry: no {'alert' if len(missing) == 1 else 'alerts'} {names}; nothing requeued",
                file=sys.stderr,
            )
            return EXIT_BAD_INPUT
        requeued = outbox.requeue_dead(datetime.now(UTC), None if args.dead else args.ids)
        print(f"{count(requeued, 'dead delivery', 'dead deliveries')} put back in the queue")
        return EXIT_OK

    return with_storage(context, retry)


def _list(outbox: Outbox, status: str | None, limit: int, as_json: bool) -> int:
    views = outbox.alerts(status, limit)
    troubled = [h for h in outbox.webhooks.health().values() if h.disabled_reason or h.consecutive_dead]
    if as_json:
        document = {"alerts": [_json(view) for view in views], "webhooks": [_health_json(h) for h in troubled]}
        print(json.dumps(document, ensure_ascii=False, indent=2))
        return EXIT_OK
    for view in views:
        alert = view.alert
        print(f"#{alert.id} [{alert.rule}] {alert.article.title} ({alert.article.source}) {_time(alert.created_at)}")
        for d in view.deliveries:
            when = f" next {_time(d.next_attempt_at)}" if d.next_attempt_at else ""
            sent = f" at {_time(d.sent_at)}" if d.sent_at else ""
            error = f" — {d.last_error}" if d.last_error and d.status != "sent" else ""
            print(f"    {d.webhook}: {d.status}{sent}, {count(d.attempts, 'attempt')}{when}{error}")
    if not views:
        print("no alerts" + (f" with a {status} delivery" if status else ""))
    counts = outbox.counts()
    print("deliveries: " + ", ".join(f"{counts.get(s, 0)} {s}" for s in STATUSES))
    for health in troubled:
        state = f"disabled: {health.disabled_reason}" if health.disabled_reason else "failing"
        print(
            f"webhook '{health.name}' {state}; {count(health.consecutive_dead, 'delivery', 'deliveries')} dead in a row"
            + (f"; last error: {health.last_error}" if health.last_error else "")
        )
    return EXIT_OK


def _time(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "-"


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def _json(view: AlertView) -> dict[str, Any]:
    alert = view.alert
    return {
        "id": alert.id,
        "rule": alert.rule,
        "title": alert.article.title,
        "url": alert.article.url,
        "source": alert.article.source,
        "created_at": _iso(alert.created_at),
        "deliveries": [
            {
                "id": d.id,
                "webhook": d.webhook,
                "status": d.status,
                "attempts": d.attempts,
                "next_attempt_at": _iso(d.next_attempt_at),
                "sent_at": _iso(d.sent_at),
                "last_status_code": d.last_status_code,
                "last_error": d.last_error,
            }
            for d in view.deliveries
        ],
    }


def _health_json(health: WebhookHealth) -> dict[str, Any]:
    return {
        "name": health.name,
        "consecutive_dead": health.consecutive_dead,
        "disabled": health.disabled_reason,
        "last_error": health.last_error,
        "last_success_at": _iso(health.last_success_at),
    }
