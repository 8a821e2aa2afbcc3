from __future__ import annotations

import pickle

from monitor.matching import Hit, Matcher
from monitor.matching.snippet import marked

RULES = {"word": "nato", "decided": "nato summit", "phrase": '"nato summit"', "not only": "NOT sport"}


def test_hits_are_explained_when_read() -> None:
    hits = Matcher(RULES).match(title="NATO", text="The NATO summit opens in Madrid.")
    assert [hit.rule for hit in hits] == ["word", "decided", "phrase", "not only"]
    assert [(hit.matched, hit.field) for hit in hits] == [
        (("NATO",), "title"),
        (("NATO", "summit"), "title"),
        (("NATO summit",), "text"),
        ((), "text"),
    ]
    assert marked(hits[2].snippet, hits[2].highlights) == "The **NATO summit** opens in Madrid."
    assert hits[3].snippet == "The NATO summit opens in Madrid."


def test_a_pickled_hit_comes_back_explained() -> None:
    # Hits come back from the parse pool's worker processes pickled.
    hits = Matcher(RULES).match(text="Sport: NATO summit.")
    back = pickle.loads(pickle.dumps(hits))
    assert back == hits
    assert [(hit.rule, hit.matched, hit.snippet) for hit in back] == [
        ("word", ("NATO",), "Sport: NATO summit."),
        ("decided", ("NATO", "summit"), "Sport: NATO summit."),
        ("phrase", ("NATO summit",), "Sport: NATO summit."),
    ]


def test_a_settled_hit_is_the_same_hit() -> None:
    (hit,) = Matcher({"rule": "madrid"}).match(text="NATO summit in Madrid")
    assert hit.settled() is hit
    assert hit == Hit("rule", ("Madrid",), "text", "NATO summit in Madrid", ((15, 21),))
    assert repr(hit) == "Hit('rule', ('Madrid',), 'text', 'NATO summit in Madrid', ((15, 21),))"
    assert hash(hit) == hash(Hit("rule", ("Madrid",), "text", "NATO summit in Madrid", ((15, 21),)))
