"""bench/match.py's side-by-side comparison runs at a small size, and the three systems find the same hits."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from monitor.matching import Matcher
from monitor.matching.forms import Forms
from monitor.matching.text import fold

BENCH = Path(__file__).parent.parent / "bench"
sys.path.insert(0, str(BENCH))

from matchbaselines import AhoCorasick, Perq, spaced  # noqa: E402
from matchcorpus import make_corpus, query  # noqa: E402


@pytest.mark.parametrize("name", ["heavy", "light"])
def test_the_three_systems_find_the_same_hits(name: str) -> None:
    corpus = make_corpus(name, 40, 3_000, 11, fold, lambda text: spaced(text).split())
    for family, system in (("perq", Perq), ("plain", AhoCorasick)):
        trees = list(corpus.rules[family].values())
        ours = Matcher({f"{i}": query(tree) for i, tree in enumerate(trees)}, forms=Forms.none())
        theirs = system(trees)
        found = [sorted(int(hit.rule) for hit in ours.match(title, text)) for title, text, _ in corpus.articles]
        assert found == [theirs.match(title, text) for title, text, _ in corpus.articles]
        assert sum(map(len, found)) >= len(corpus.articles) / 2  # rules do hit


def test_the_bench_compares_side_by_side() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH / "match.py"), "--part", "compare", "--rules", "2000", "--articles", "60"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    compared = [line for line in lines if "identical hits:" in line]
    assert len(compared) == 8  # 2 corpora x 2 families x 2 sizes
    assert all(line.endswith("identical hits: yes") for line in compared)
    assert any(line.strip().startswith("perq") for line in compared)
    assert any(line.strip().startswith("Aho-Corasick") for line in compared)
    assert "cost per article from 1,000 to 2,000 rules:" in lines
