"""APScheduler wiring: which job runs when. One job per feed, one for the seeds, one for deliveries, one
that checks feed health (``pipeline.check_health``, every minute), and one that checks the settings file (also
run on SIGHUP) and then adds, removes or reschedules jobs to follow it.

A feed's job fires at the feed's interval and hands the feed to the pipeline's poller when it is due; the poller
fetches it, at most ``[http] max_connections`` feeds at a time and two per host."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

import watchfiles
from apscheduler.executors.pool import ThreadPoolExecutor as JobExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from monitor.pipeline import Pipeline
from monitor.reload import Changes, Reloader
from monitor.settings.config import FeedSettings, Settings

log = logging.getLogger(__name__)
MAX_JITTER_SECONDS = 60.0
STAGGER_SECONDS = 0.2
WORKERS = 8
SETTINGS_CHECK_SECONDS = 30.0  # a safety net: file events (watchfiles) and SIGHUP trigger a check at once
HEALTH_CHECK_SECONDS = 60.0


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
    scheduler.add_job(
        pipeline.check_health,
        IntervalTrigger(seconds=HEALTH_CHECK_SECONDS),
        id="health",
        name="health",
        next_run_time=now + timedelta(seconds=HEALTH_CHECK_SECONDS),
    )
    return scheduler


def serve(
    pipeline: Pipeline,
    reloader: Reloader | None = None,
    on_start: Callable[[BackgroundScheduler], None] | None = None,
) -> None:
    """Run the jobs until SIGINT or SIGTERM, then let running jobs finish and return.

    With a reloader, the settings file is checked as soon as it changes on disk, on SIGHUP, and every
    SETTINGS_CHECK_SECONDS (for file systems that report no events). ``on_start`` is given the scheduler once it
    runs.
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

        def check_now(trigger: str) -> None:
            scheduler.add_job(check, args=[trigger], id="settings-now", name="settings", replace_existing=True)

        def on_hangup(_signum: int, _frame: FrameType | None) -> None:
            log.info("received SIGHUP, checking the settings file")
            check_now("SIGHUP")

        handlers[signal.SIGHUP] = on_hangup
        _watch(reloader.path, lambda: check_now("file changed"), stop)
    previous = {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}
    scheduler.start()
    if on_start is not None:
        on_start(scheduler)
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


def _watch(path: Path, on_change: Callable[[], None], stop: threading.Event) -> None:
    """Call ``on_change`` whenever the file at ``path`` is written, renamed into place or removed, until ``stop``."""
    folders = sorted({os.path.dirname(item) for item in settings_paths(path)})

    def loop() -> None:
        try:
            # Watch the folder, not the file: editors often save by writing a new file and renaming it. Only the
            # settings file's own events get through the filter: the database, logs or seeds written beside it
            # wake nothing (and make watchfiles log nothing).
            for _ in watchfiles.watch(
                *folders,
                watch_filter=settings_filter(path),
                stop_event=stop,
                recursive=False,
                rust_timeout=500,
                raise_interrupt=False,
            ):
                on_change()
        except Exception:  # without events, the periodic check still notices changes
            log.warning("settings: cannot watch %s for changes; checking it periodically", path, exc_info=True)

    threading.Thread(target=loop, name="settings-watch", daemon=True).start()


def settings_paths(path: Path) -> frozenset[str]:
    """Return the paths whose events mean the settings file changed: the path as given and the file it leads to."""
    return frozenset({os.path.abspath(path), os.path.realpath(path)})


def settings_filter(path: Path) -> Callable[[watchfiles.Change, str], bool]:
    """Return a watchfiles filter that lets through the events of the settings file at ``path`` and no other."""
    watched = settings_paths(path)
    return lambda _change, changed: os.path.normpath(changed) in watched


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
