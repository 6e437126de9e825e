"""Embedding age with a fake clock; a warning through the notifier once stale."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from recsys.embeddings.freshness import check_embedding_freshness, freshness
from recsys.embeddings.store import metadata_path, save_embeddings
from recsys.errors import EmbeddingFileError

BUILT = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


class Recorder:
    """A notifier that keeps what it was asked to send."""

    def __init__(self):
        self.sent = []

    def __call__(self, subject, message, severity):
        self.sent.append((subject, message, severity))


@pytest.fixture
def built(paths):
    return save_embeddings(paths, np.eye(3, dtype=np.float32), [1, 2, 3], model="m", backend="tfidf", now=BUILT)


def test_fresh_embeddings_do_not_alert(built):
    notifier = Recorder()
    age = check_embedding_freshness(built, now=BUILT + timedelta(days=30, hours=23), notifier=notifier)
    assert age == 30 and notifier.sent == []  # 30 days is not "more than 30"


def test_stale_embeddings_send_one_warning(built):
    notifier = Recorder()
    age = check_embedding_freshness(built, now=BUILT + timedelta(days=31, hours=1), notifier=notifier)
    assert age == 31
    [(subject, message, severity)] = notifier.sent
    assert subject == "BERT Embeddings Stale" and severity == "warning" and "31 days old" in message


def test_limit_is_configurable_and_record_is_complete(built):
    notifier = Recorder()
    assert check_embedding_freshness(built, now=BUILT + timedelta(days=8), max_age_days=7, notifier=notifier) == 8
    assert len(notifier.sent) == 1
    record = freshness(built, now=BUILT + timedelta(hours=36))
    assert record["age_days"] == 1 and record["age_hours"] == 36.0 and record["stale"] is False
    assert (record["model"], record["dim"], record["n"], record["version"]) == ("m", 3, 3, 1)


def test_naive_now_is_utc_and_missing_created_at_is_named(built):
    assert check_embedding_freshness(built, now=datetime(2025, 1, 3, 12, 0)) == 2
    metadata_path(built).write_text('{"model": "m"}')
    with pytest.raises(EmbeddingFileError, match="no created_at"):
        check_embedding_freshness(built)


def test_latest_freshness_and_no_embeddings(paths):
    from recsys.embeddings.freshness import check_latest_freshness

    notifier = Recorder()
    assert check_latest_freshness(paths, notifier=notifier) is None and notifier.sent == []
    save_embeddings(paths, np.eye(2, dtype=np.float32), [1, 2], model="old", backend="tfidf", now=BUILT)
    save_embeddings(paths, np.eye(2, dtype=np.float32), [1, 2], model="new", backend="tfidf",
                    now=BUILT + timedelta(days=10))
    record = check_latest_freshness(paths, now=BUILT + timedelta(days=45), notifier=notifier)
    assert record["model"] == "new" and record["age_days"] == 35 and record["stale"] is True
    assert len(notifier.sent) == 1
