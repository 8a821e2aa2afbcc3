from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlmodel import select

from monitor.ingest.article import ParsedArticle
from monitor.store.alerts import StoredArticle
from monitor.store.models import Article, ArticleKey
from monitor.store.storage import Storage

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def article(key: str, *keys: str) -> ParsedArticle:
    return ParsedArticle(content_key=key, source="feed", title=key, text="text", published=NOW, keys=keys)


@pytest.fixture
def storage(database_url: str) -> Iterator[Storage]:
    store = Storage.open(database_url)
    yield store
    store.close()


def test_an_article_is_new_only_if_none_of_its_keys_was_seen(storage: Storage) -> None:
    with storage.transaction() as tx:
        first = tx.save_new_articles([article("guid:a", "url:x", "fp:1"), article("guid:b", "url:x")], NOW)
    assert [s.article.content_key for s in first] == ["guid:a"]  # the second shares a key within the batch
    with storage.transaction() as tx:
        again = tx.save_new_articles([article("guid:c", "fp:1"), article("guid:d", "url:y"), article("guid:a")], NOW)
    assert [s.article.content_key for s in again] == ["guid:d"]


def test_a_copy_that_lost_a_key_to_another_transaction_is_folded_into_the_holder(storage: Storage) -> None:
    with storage.transaction() as tx:
        (held,) = tx.save_new_articles([article("guid:a", "url:x")], NOW)
    with storage.transaction() as tx:
        # As if another instance stored url:x between the check and the insert of this copy.
        (copy,) = tx.save_new_articles([article("guid:b")], NOW)
        copy = StoredArticle(copy.id, article("guid:b", "url:x", "fp:2"))
        tx.session.exec(select(ArticleKey).where(ArticleKey.article_id == copy.id)).one()  # guid:b, claimed
        tx.session.execute(ArticleKey.__table__.delete().where(ArticleKey.article_id == copy.id))  # type: ignore[attr-defined]
        assert tx._claim_keys([copy]) == []
    with storage.transaction() as tx:
        ids = set(tx.session.exec(select(Article.id)))
        keys = dict(tx.session.exec(select(ArticleKey.key, ArticleKey.article_id)).all())
    assert ids == {held.id}
    assert keys == {"guid:a": held.id, "url:x": held.id, "guid:b": held.id, "fp:2": held.id}
