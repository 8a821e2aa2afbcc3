"""APScheduler wiring: which job runs when. One job per feed, one for the seeds, one for deliveries."""

from __future__ import annotations

import logging
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from types import FrameType

from apscheduler.executors.pool import ThreadPoolExecutor as JobExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from monitor.pipeline import Pipeline

log = logging.getLogger(__name__)
MAX_JITTER_SECONDS = 60.0
STAGGER_SECONDS = 0.2
WORKERS = 8


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
        scheduler.add_job(
            pipeline.refresh_seeds,
            IntervalTrigger(seconds=settings.seeds.interval.total_seconds()),
            id="seeds",
            name="seeds",
            next_run_time=now,
        )
    for index, feed in enumerate(settings.feeds):
        interval = settings.feed_interval(feed).total_seconds()
        scheduler.add_job(
            pipeline.refresh_feed,
            IntervalTrigger(seconds=interval, jitter=min(interval / 10, MAX_JITTER_SECONDS)),
            args=[feed],
            id=f"feed:{feed.name}",
            name=f"feed {feed.name}",
            next_run_time=now + timedelta(seconds=STAGGER_SECONDS * index),
        )
    scheduler.add_job(
        pipeline.deliver,
        IntervalTrigger(seconds=settings.scheduler.delivery_interval.total_seconds()),
        id="delivery",
        name="delivery",
        next_run_time=now + timedelta(seconds=1),
    )
    return scheduler


def serve(pipeline: Pipeline) -> None:
    """Run the jobs until SIGINT or SIGTERM, then let running jobs finish and return."""
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, stopping after the jobs in progress", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    scheduler = build(pipeline)
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
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("stopped")


def run_once(pipeline: Pipeline) -> None:
    """Run every job once: seeds, then all feeds concurrently, then the deliveries this cycle produced."""
    pipeline.refresh_seeds()
    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="feed") as pool:
        for future in [pool.submit(pipeline.refresh_feed, feed) for feed in pipeline.settings.feeds]:
            future.result()
    report = pipeline.deliver()
    log.info("cycle done: %d sent, %d to retry, %d given up", report.sent, report.retried, report.dead)
