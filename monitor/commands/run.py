"""``monitor run [--once]``: the daemon, or one full cycle for cron, CI and trying rules."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from monitor.commands import EXIT_FAILURE, EXIT_OK, Context
from monitor.errors import ServerError, StorageError
from monitor.ingest import fetcher
from monitor.matching import native
from monitor.observe import progress
from monitor.observe.logs import configure, secrets_of
from monitor.observe.memory import limit_malloc_arenas
from monitor.pipeline import Pipeline
from monitor.store.engine import redact_url
from monitor.store.message import AlertMessage
from monitor.store.storage import Storage

if TYPE_CHECKING:
    from monitor.reload import Reloader

log = logging.getLogger("monitor")


def register(commands: Any) -> None:
    """Add the ``run`` command."""
    run = commands.add_parser("run", help="run the daemon (or one cycle with --once)")
    run.add_argument("--once", action="store_true", help="run every job once, send this cycle's alerts, exit")
    run.set_defaults(handler=handle, needs_settings=True)


def handle(args: argparse.Namespace, context: Context) -> int:
    """Open the database and run the daemon (or one cycle); return the exit code.

    The daemon re-reads its settings file, with the environment for its ``${NAME}`` values, when it changes.
    """
    settings = context.require_settings()
    limit_malloc_arenas()  # before the fetching threads start
    pipelines: list[Pipeline] = []

    def secrets() -> list[str]:
        current = pipelines[0].settings if pipelines else settings
        # The token of the settings the server started with, and that of a newer file (put in force at restart).
        tokens = {s.server.token.get_secret_value() for s in (settings, current) if s.server.token is not None}
        return [*secrets_of(current.webhooks.values()), *tokens]

    def webhook_names() -> list[str]:
        return list((pipelines[0].settings if pipelines else settings).webhooks)

    configure(settings.logging.level, settings.logging.format, secrets, webhook_names)
    if not native.compiled():  # the install said why only to `pip install -v`
        log.warning("matcher: %s", native.describe())
    try:
        storage = Storage.open(settings.database.url)
    except StorageError as exc:
        log.error("%s", exc)
        return EXIT_FAILURE
    try:
        storage.lock_single_instance()
    except StorageError as exc:
        storage.close()
        log.error("%s", exc)
        return EXIT_FAILURE
    client = fetcher.make_client(settings.http.timeout.total_seconds())
    pipeline = Pipeline(settings, storage, client, print_alert)
    pipelines.append(pipeline)
    if storage.single_instance:
        # Alone on this database: deliveries a killed predecessor had claimed can go out again right away.
        released = pipeline.outbox.release_claims()
        pipeline.outbox.webhooks.release_leases()
        if released:
            log.info("%d deliveries left in flight by a previous run are queued again", released)
    try:
        if args.once:
            with progress.bar("feeds", len(settings.feeds)) as advance:
                run_once(pipeline, advance)
        else:
            # Imported here: the scheduler, the file watcher, the web server and its pages are the daemon's, and
            # a cycle run from cron, which needs none of them, need not hold them (nor its forked workers).
            from monitor.reload import Reloader

            serve(pipeline, storage, Reloader(pipeline, settings.path, context.environ))
    except (StorageError, ServerError) as exc:
        log.error("%s", exc)
        return EXIT_FAILURE
    except Exception as exc:
        if type(exc).__module__.startswith("sqlalchemy"):
            log.error("database %s: %s", redact_url(settings.database.url), exc)
            return EXIT_FAILURE
        raise
    finally:
        pipeline.close()
        client.close()
        storage.close()
    return EXIT_OK


def run_once(pipeline: Pipeline, feed_done: Callable[[], None] | None = None) -> None:
    """Run every job once: seeds, every feed not disabled (due or not) concurrently, feed health, deliveries."""
    pipeline.refresh_seeds()
    pipeline.refresh_feeds(feed_done)
    pipeline.check_health()
    report = pipeline.deliver()
    log.info("cycle done: %d sent, %d to retry, %d given up", report.sent, report.retried, report.dead)


def serve(pipeline: Pipeline, storage: Storage, reloader: Reloader) -> None:
    """Run the daemon, with /healthz and /metrics on ``[server] listen`` while the scheduler runs."""
    from apscheduler.schedulers.background import BackgroundScheduler

    from monitor import scheduler
    from monitor.observe.server import StatusServer
    from monitor.web.app import Site, pages

    listen = pipeline.settings.server.listen
    if listen is None:
        scheduler.serve(pipeline, reloader)
        return
    running: list[BackgroundScheduler] = []
    server_settings = pipeline.settings.server  # [server] changes only at restart
    refused = server_settings.pages_refused()
    if refused:
        log.warning("%s: set [server] token to serve them", refused)
    token = server_settings.token.get_secret_value() if server_settings.token is not None else None
    site = Site(storage, lambda: pipeline.settings)
    try:
        server = StatusServer(
            listen,
            pipeline.metrics,
            lambda: bool(running) and running[0].running,
            storage.probe,
            pages=pages(site, token, refused),
        )
    except OSError as exc:
        raise ServerError(f"server: cannot listen on {listen}: {exc}") from exc

    def started(jobs: BackgroundScheduler) -> None:
        running.append(jobs)
        server.start()

    try:
        scheduler.serve(pipeline, reloader, started)
    finally:
        server.stop()


def print_alert(alert: AlertMessage) -> None:
    """Print one alert as a readable line on standard output."""
    article = alert.article
    matched = ", ".join(alert.matched)
    where = f" {article.url}" if article.url else ""
    print(f"ALERT [{alert.rule}] {article.title} ({article.source}){where} | matched: {matched}", flush=True)
