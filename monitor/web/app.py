"""The routes of the web pages: each reads the store (and the settings in force) and renders a template.

Every route answers ``GET`` (and ``HEAD``) and changes nothing; the workbench also takes its form as a ``POST``
body, for a pasted text too long for an address, and still changes nothing. Handlers are plain functions, run
on the server's thread pool, since they wait on the database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from monitor.observe.health import SOURCE as HEALTH_SOURCE
from monitor.settings.config import Settings
from monitor.store.browse import Browse, days
from monitor.store.storage import Storage
from monitor.web import workbench
from monitor.web.access import Access
from monitor.web.articleindex import ArticleIndex
from monitor.web.charts import daily_bars
from monitor.web.render import environment, page

STATIC = Path(__file__).parent / "static"
PAGE_SIZE = 50
CHART_DAYS = 14
LAST_ALERTS = 5
HEALTH_EVENTS = 200
MAX_FORM_BYTES = 1 << 20


@dataclass(frozen=True)
class Site:
    """What the pages read: the store, the settings in force (they change on reload) and the clock."""

    storage: Storage
    settings: Callable[[], Settings]
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


def pages(site: Site, token: str | None, refused: str | None) -> ASGIApp:
    """Return the pages as an application, behind their access policy (``access.Access``)."""
    views = Pages(site)
    router = Router(
        routes=[
            Route("/", views.alerts),
            Route("/stories/{story_id}", views.story),
            Route("/feeds", views.feeds),
            Route("/rules", views.rules),
            Route("/workbench", views.workbench, methods=["GET", "POST"]),
            Route("/workbench/results", views.results, methods=["GET", "POST"]),
            Route("/static/{name}", views.static),
        ],
        default=_Missing(views.missing),
    )
    return Access(router, token, refused)


class Pages:
    """The handlers of the pages, over one site."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.env = environment()
        self.browse = Browse(site.storage.reader)
        self.bench = workbench.Workbench(site.storage.articles_since, ArticleIndex(site.storage))
        self.files = {path.name: path.read_bytes() for path in STATIC.iterdir() if path.is_file()}

    def html(self, name: str, status: int = 200, **context: object) -> HTMLResponse:
        """Return a template rendered as an HTML answer."""
        return HTMLResponse(page(self.env, name, **context), status_code=status)

    def alerts(self, request: Request) -> Response:
        """Return the alerts page: newest first, of one rule when asked, paged by alert id."""
        rule = request.query_params.get("rule") or None
        before = _positive(request.query_params.get("before"))
        entries = self.browse.alerts(rule, before, PAGE_SIZE)
        names = sorted({r.name for r in self.site.settings().rules} | set(self.browse.alert_rules()))
        older = None
        if len(entries) == PAGE_SIZE:
            older = urlencode({**({"rule": rule} if rule else {}), "before": entries[-1].id})
        return self.html("alerts.html", alerts=entries, rule=rule, rules=names, older=older, paged=before is not None)

    def story(self, request: Request) -> Response:
        """Return the page of one story: its articles, outlet by outlet."""
        story_id = _positive(request.path_params["story_id"])
        articles = self.browse.story(story_id) if story_id is not None else []
        if not articles:
            return self.html("missing.html", 404, what=f"no story {request.path_params['story_id']}")
        outlets: dict[str, list[object]] = {}
        for article in articles:
            outlets.setdefault(article.source, []).append(article)
        return self.html("story.html", story_id=story_id, first=articles[0], outlets=outlets, count=len(articles))

    def feeds(self, request: Request) -> Response:
        """Return the feeds page: each feed's health, its articles a day and its health alerts."""
        settings, now = self.site.settings(), self.site.clock()
        listed = [(feed.name, feed.url) for feed in settings.feeds]
        chart_days = days(now.date(), CHART_DAYS)
        start = datetime.combine(chart_days[0], datetime.min.time(), UTC)
        healths = self.site.storage.feed_health(listed, now - timedelta(hours=24))
        per_day = self.browse.articles_per_day([name for name, _ in listed], start)
        events: dict[str, list[object]] = {}
        for event in self.browse.health_events(HEALTH_SOURCE, HEALTH_EVENTS):
            events.setdefault(event.feed, []).append(event)
        charts = {
            name: daily_bars(per_day.get(name, {}), chart_days, f"articles a day of {name}") for name, _ in listed
        }
        return self.html("feeds.html", feeds=healths, charts=charts, events=events)

    def rules(self, request: Request) -> Response:
        """Return the rules page: each rule as it runs, its alerts a day and its last alerts."""
        settings, now = self.site.settings(), self.site.clock()
        chart_days = days(now.date(), CHART_DAYS)
        start = datetime.combine(chart_days[0], datetime.min.time(), UTC)
        per_day = self.browse.alerts_per_day(start)
        names = [rule.name for rule in settings.rules]
        charts = {name: daily_bars(per_day.get(name, {}), chart_days, f"alerts a day of {name}") for name in names}
        last = self.browse.last_alerts(names, LAST_ALERTS)
        tried = {rule.name: urlencode({"q": rule.describe()}) for rule in settings.rules}
        return self.html("rules.html", rules=settings.rules, settings=settings, charts=charts, last=last, tried=tried)

    async def workbench(self, request: Request) -> Response:
        """Return the workbench page with the results of its form."""
        return await self._bench(request, "workbench.html")

    async def results(self, request: Request) -> Response:
        """Return only the results of the workbench's form (what the page's script asks for as you type)."""
        return await self._bench(request, "results.html")

    async def _bench(self, request: Request, template: str) -> Response:
        params: dict[str, list[str]] = {}
        for key, value in request.query_params.multi_items():
            params.setdefault(key, []).append(value)
        if request.method == "POST":
            body = await _body(request)
            if body is None:
                return Response("the form is larger than 1 MB\n", 413, media_type="text/plain")
            params.update(parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True))
        form = workbench.Form.read(params)
        outcome = await run_in_threadpool(self.bench.run, form, self.site.clock())
        every = urlencode(form.parameters(every=True))
        query = urlencode(form.parameters())
        return self.html(template, outcome=outcome, form=form, query=query, every=every, budget=workbench.BUDGET)

    def static(self, request: Request) -> Response:
        """Return the stylesheet or the workbench's script."""
        name = request.path_params["name"]
        if name not in self.files:
            return self.missing(request)
        kind = "text/css" if name.endswith(".css") else "text/javascript"
        return Response(self.files[name], media_type=kind, headers={"cache-control": "no-cache"})

    def missing(self, request: Request) -> Response:
        """Return the page of an address that names nothing."""
        return self.html("missing.html", 404, what=f"no page {request.url.path}")


class _Missing:
    """The page of an address that names no page."""

    def __init__(self, handler: Callable[[Request], Response]) -> None:
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.handler(Request(scope, receive))(scope, receive, send)


async def _body(request: Request) -> bytes | None:
    """Return the request body, or None when it is longer than MAX_FORM_BYTES."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _positive(value: str | None) -> int | None:
    """Return a positive integer parameter, or None when absent or not one."""
    if value is None or not value.isascii() or not value.isdigit():
        return None
    number = int(value)
    return number if 0 < number < 2**63 else None
