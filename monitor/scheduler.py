"""APScheduler wiring: which job runs when. One job per feed, one for the seeds, one for deliveries, and one
that checks the settings file (also run on SIGHUP) and then adds, removes or reschedules jobs to follow it.

A feed's job fires at the feed's interval and hands the feed to the pipeline's poller when it is due; the poller
fetches it, at most ``[http] max_connections`` feeds at a time and two per host."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import FrameType

from apscheduler.executors.pool import ThreadPoolExecutor as JobExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from monitor.config import FeedSettings, Settings
from monitor.pipeline import Pipeline
from monitor.reload import Changes, Reloader

log = logging.getLogger(__name__)
MAX_JITTER_SECONDS = 60.0
STAGGER_SECONDS = 0.2
WORKERS = 8
SETTINGS_CHECK_SECONDS = 5.0


def build(pipeline: Pipeline) -> BackgroundScheduler:
    """Return a scheduler (not started) with the seeds, feed and delivery jobs of the pipeline's settings."""
    settings = pipeline.settings
    scheduler = BackgroundScheduler(
        timezone=UTC,
        executors={"default": JobExecutor(WORKERS)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
    )
    now = datetime.now(UTC)
    if settings.seeds.enabled:
        _add_seeds_job(scheduler, pipeline, now)
    for index, feed in enumerate(settings.feeds):
        _add_feed_job(scheduler, pipeline, feed, now + timedelta(seconds=STAGGER_SECONDS * index))
    scheduler.add_job(
        pipeline.deliver,
        _delivery_trigger(settings),
        kwargs={"wait": False},
        id="delivery",
        name="delivery",
        next_run_time=now + timedelta(seconds=1),
    )
    return scheduler


def serve(pipeline: Pipeline, reloader: Reloader | None = None) -> None:
    """Run the jobs until SIGINT or SIGTERM, then let running jobs finish and return.

    With a reloader, the settings file is checked every SETTINGS_CHECK_SECONDS and on SIGHUP.
    """
    stop = threading.Event()
    scheduler = build(pipeline)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, stopping after the jobs in progress", signal.Signals(signum).name)
        stop.set()

    handlers: dict[signal.Signals, Callable[[int, FrameType | None], None]] = {
        signal.SIGINT: on_signal,
        signal.SIGTERM: on_signal,
    }
    if reloader is not None:
        check = _settings_check(scheduler, pipeline, reloader)
        scheduler.add_job(
            check,
            IntervalTrigger(seconds=SETTINGS_CHECK_SECONDS),
            args=["file changed"],
            id="settings",
            name="settings",
        )

        def on_hangup(_signum: int, _frame: FrameType | None) -> None:
            log.info("received SIGHUP, checking the settings file")
            scheduler.add_job(check, args=["SIGHUP"], id="settings-now", name="settings", replace_existing=True)

        handlers[signal.SIGHUP] = on_hangup
    previous = {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}
    scheduler.start()
    log.info(
        "running: %d feeds, %d rules, %d webhooks",
        len(pipeline.settings.feeds),
        len(pipeline.settings.rules),
        len(pipeline.settings.webhooks),
    )
    try:
        stop.wait()
    finally:
        scheduler.shutdown(wait=True)
        pipeline.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("stopped")


def _settings_check(scheduler: BackgroundScheduler, pipeline: Pipeline, reloader: Reloader) -> Callable[[str], None]:
    """Return the job that reloads the settings and then brings the jobs in line with them."""
    lock = threading.Lock()  # the periodic check and a SIGHUP may run at once: one after the other

    def check(trigger: str) -> None:
        with lock:
            changes = reloader.check(trigger)
            if changes is not None:
                _reschedule(scheduler, pipeline, changes)

    return check


def _reschedule(scheduler: BackgroundScheduler, pipeline: Pipeline, changes: Changes) -> None:
    """Add, remove and replace jobs so that they follow the settings now in force."""
    settings = pipeline.settings
    now = datetime.now(UTC)
    for name in changes.feeds.removed:
        _remove_job(scheduler, f"feed:{name}")
    renewed = set(changes.feeds.added) | set(changes.feeds.changed)
    for feed in settings.feeds:
        if feed.name in renewed:
            _add_feed_job(scheduler, pipeline, feed, now)
    if "seeds" in changes.sections:
        _remove_job(scheduler, "seeds")
        if settings.seeds.enabled:
            _add_seeds_job(scheduler, pipeline, now)
    if "scheduler" in changes.sections:
        scheduler.reschedule_job("delivery", trigger=_delivery_trigger(settings))


def _remove_job(scheduler: BackgroundScheduler, job_id: str) -> None:
    if scheduler.get_job(job_id) is not None:
        scheduler.remove_job(job_id)


def _add_seeds_job(scheduler: BackgroundScheduler, pipeline: Pipeline, start: datetime) -> None:
    interval = pipeline.settings.seeds.interval.total_seconds()
    scheduler.add_job(
        pipeline.refresh_seeds,
        IntervalTrigger(seconds=interval),
        id="seeds",
        name="seeds",
        next_run_time=start,
        replace_existing=True,
    )


def _add_feed_job(scheduler: BackgroundScheduler, pipeline: Pipeline, feed: FeedSettings, start: datetime) -> None:
    interval = pipeline.settings.feed_interval(feed).total_seconds()
    # The job only queues the feed, and only when it is due (back-off, Retry-After, ttl, 410 Gone): the fetch
    # itself runs on the pipeline's feed poller, within its connection limits.
    scheduler.add_job(
        pipeline.poll_feed,
        IntervalTrigger(seconds=interval, jitter=min(interval / 10, MAX_JITTER_SECONDS)),
        args=[feed],
        id=f"feed:{feed.name}",
        name=f"feed {feed.name}",
        next_run_time=start,
        replace_existing=True,
    )


def _delivery_trigger(settings: Settings) -> IntervalTrigger:
    return IntervalTrigger(seconds=settings.scheduler.delivery_interval.total_seconds())


def run_once(pipeline: Pipeline) -> None:
    """Run every job once: seeds, then every feed not disabled (due or not) concurrently, then the deliveries."""
    pipeline.refresh_seeds()
    pipeline.refresh_feeds()
    report = pipeline.deliver()
    log.info("cycle done: %d sent, %d to retry, %d given up", report.sent, report.retried, report.dead)
