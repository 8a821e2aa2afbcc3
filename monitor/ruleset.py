"""The rules in force: the settings they came with, their readable descriptions, their compiled matcher, and
the alerts their hits make."""

from __future__ import annotations

import gc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from types import MappingProxyType

from monitor.matching import Hit, Matcher
from monitor.settings.config import RuleSettings, Settings
from monitor.store.alerts import NewAlert, StoredArticle


@dataclass(frozen=True)
class Ruleset:
    """The settings in force, each rule's readable description and the matcher built from the rules."""

    settings: Settings
    rules: Mapping[str, RuleSettings]
    descriptions: Mapping[str, str]
    matcher: Matcher

    @classmethod
    def build(cls, settings: Settings) -> Ruleset:
        """Return the ruleset of validated settings, its matcher compiled from every rule."""
        rules = {rule.name: rule for rule in settings.rules}
        ruleset = cls(
            settings=settings,
            rules=MappingProxyType(rules),
            descriptions=MappingProxyType({name: rule.describe() for name, rule in rules.items()}),
            matcher=Matcher({name: rule.compile() for name, rule in rules.items()}),
        )
        # The compiled rules live as long as the ruleset and hold no cycles: keeping them out of the cyclic
        # garbage collector's scans saves each article's short-lived objects from paying for them.
        gc.freeze()
        return ruleset

    def alerts(
        self,
        stored: Sequence[StoredArticle],
        hits: Mapping[str, Sequence[Hit]],
        filed: Mapping[int, int],
        window: timedelta | None,
    ) -> list[NewAlert]:
        """Return the alerts to record: the rules' hits (by content key) on the articles actually stored.

        Each carries its hit, whose terms and snippet the storing transaction works out only for the alerts it
        records.
        """
        return [
            NewAlert(
                article=item,
                rule=hit.rule,
                query=self.descriptions[hit.rule],
                matched=(),
                field="",
                snippet="",
                webhooks=tuple(self.settings.rule_webhooks(self.rules[hit.rule])),
                digest_every=_digest_every(self.rules[hit.rule]),
                story_id=filed.get(item.id),
                story_window=window if self.rules[hit.rule].once_per_story else None,
                hit=hit,  # what explains it is worked out only if the alert is recorded
            )
            for item in stored
            for hit in hits.get(item.article.content_key, ())
        ]


def _digest_every(rule: RuleSettings) -> timedelta | None:
    """Return the window of a digest rule, or None for a rule whose alerts go out at once."""
    return rule.digest_every if rule.delivery == "digest" else None
