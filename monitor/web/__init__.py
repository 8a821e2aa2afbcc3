"""The web pages (alerts and stories, feeds, rules, the rule workbench): read-only views of the store and the rules.

``app.pages`` returns them as an application that ``observe.server`` mounts beside ``/healthz`` and ``/metrics``;
``access`` decides who may read them and adds the safety headers, ``render`` escapes what comes from feeds,
``charts`` draws the daily bars, ``workbench`` tries a rule over the stored articles and on a text.
"""
