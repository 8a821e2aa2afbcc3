from __future__ import annotations

import pytest

from monitor.store.message import unmark


@pytest.mark.parametrize(
    ("marked", "text", "words"),
    [
        ("… avant le **sommet de l'Otan** prévu …", "… avant le sommet de l'Otan prévu …", ["sommet de l'Otan"]),
        ("**NATO** **summit**", "NATO summit", ["NATO", "summit"]),
        ("no match", "no match", []),
        ("a lone ** stays", "a lone ** stays", []),
        ("", "", []),
    ],
)
def test_unmark(marked: str, text: str, words: list[str]) -> None:
    plain, highlights = unmark(marked)
    assert plain == text
    assert [plain[start:end] for start, end in highlights] == words
