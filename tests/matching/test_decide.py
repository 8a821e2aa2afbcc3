from __future__ import annotations

import pytest

from monitor.matching import Matcher, parse
from monitor.matching.decide import MAX_WAYS, decided, decision
from monitor.matching.forms import Forms
from monitor.matching.matcher import match_every_rule


@pytest.mark.parametrize(
    ("query", "ways"),
    [
        ("nato", ((("nato",), ()),)),
        ("nato summit", ((("nato", "summit"), ()),)),
        ("nato OR otan", ((("nato",), ()), (("otan",), ()))),
        ("(nato OR otan) summit", ((("nato", "summit"), ()), (("otan", "summit"), ()))),
        ("nato -sport", ((("nato",), ("sport",)),)),
        ("nato -(sport OR football)", ((("nato",), ("sport", "football")),)),
        ("NOT sport", (((), ("sport",)),)),
        ("nato OR NOT sport", ((("nato",), ()), ((), ("sport",)))),
        ("=nato summit", ((("=nato", "summit"), ()),)),
        ("nato nato", ((("nato",), ()),)),
        # What positions, fields or prefixes decide is evaluated.
        ('"nato summit"', None),
        ("title:nato", None),
        ("natio*", None),
        ("nato NEAR/3 summit", None),
        ("nato -(sport football)", None),
        ("北约", None),  # a phrase of two characters
        (" ".join(f"(a{i} OR b{i})" for i in range(5)), None),  # 32 ways, past MAX_WAYS
    ],
)
def test_decision(query: str, ways: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] | None) -> None:
    assert decision(parse(query)) == ways
    assert ways is None or len(ways) <= MAX_WAYS


@pytest.mark.parametrize(
    ("query", "present", "expected"),
    [
        ("nato summit", {"nato", "summit"}, True),
        ("nato summit", {"nato"}, False),
        ("(nato OR otan) summit", {"otan", "summit"}, True),
        ("nato -sport", {"nato", "sport"}, False),
        ("nato -sport", {"nato"}, True),
        ("NOT sport", set(), True),
        ("nato OR NOT sport", {"sport"}, False),
    ],
)
def test_decided(query: str, present: set[str], expected: bool) -> None:
    ways = decision(parse(query))
    assert ways is not None and decided(ways, present) is expected


RULES = {
    "word": "donbas",
    "both": "donbas kyiv",
    "either": "donbas OR київ",
    "without": "donbas -sport",
    "forms": "донбас київ",
    "exact": "=донбас",
    "not only": "NOT sport",
    "phrase": '"battle of donbas"',
}


@pytest.mark.parametrize(
    ("title", "text", "language"),
    [
        ("Donbas", "The battle of Donbas goes on near Kyiv.", "en"),
        ("Бої на Донбасі", "Київ каже, що на Донбасі тривають бої.", "uk"),
        ("Донбас", "Sport in Kyiv.", None),
        ("", "", None),
    ],
)
def test_rules_the_index_decides_match_as_evaluated(title: str, text: str, language: str | None) -> None:
    # Word forms on, the article in its language: the index's words include the forms it found.
    for forms in (None, Forms.none()):
        matcher = Matcher(RULES, forms=forms)
        document = matcher.document(title, text, language)
        hits = matcher.match_document(document)
        assert hits == match_every_rule(matcher.rules, document)
        if forms is None and language == "uk":
            assert "forms" in [hit.rule for hit in hits]  # "Донбасі" is a form of "донбас"
