"""From the interactions table to the sparse matrices training and evaluation use."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.errors import TrainingError


@dataclass(frozen=True)
class TrainingData:
    """Index maps and matrices for one training run (rows = users, columns = items).

    ``fit`` is what the model learns from; ``validation`` holds each eligible user's latest train
    positive (taken out of ``fit``) for per-iteration validation and early stopping; ``test`` holds
    the ``split == 'test'`` positives, never seen in training.
    """

    user_ids: np.ndarray  # index -> raw user_id
    item_ids: np.ndarray  # index -> raw product_id
    fit: sp.csr_matrix
    validation: sp.csr_matrix
    test: sp.csr_matrix

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def seen(self) -> sp.csr_matrix:
        """Everything a user interacted with in training (fit + validation): excluded at recommend time."""
        return (self.fit + self.validation).tocsr()


def build_training_data(
    interactions: pd.DataFrame,
    *,
    min_item_positives: int = 5,
    validation_users: int = 2000,
    seed: int = 0,
) -> TrainingData:
    """Positives of the train split → fit/validation matrices; test positives → test matrix."""
    positives = interactions[interactions["is_positive"]]
    train = positives[positives["split"] == "train"]
    counts = train["product_id"].value_counts()
    keep_items = np.sort(counts.index[counts >= min_item_positives].to_numpy())
    if len(keep_items) == 0:
        raise TrainingError(f"no product has {min_item_positives} or more positive training interactions")
    train = train[train["product_id"].isin(keep_items)]
    user_ids = np.sort(train["user_id"].unique())
    item_index = pd.Index(keep_items)
    user_index = pd.Index(user_ids)

    # Validation: the latest train positive of users with at least two of them.
    train = train.sort_values(["user_id", "timestamp", "product_id"], kind="stable")
    per_user = train.groupby("user_id")["product_id"].transform("size")
    eligible = train[per_user >= 2]
    latest = eligible.groupby("user_id").tail(1)
    rng = np.random.default_rng(seed)
    if len(latest) > validation_users:
        latest = latest.iloc[np.sort(rng.choice(len(latest), validation_users, replace=False))]
    fit_rows = train.drop(index=latest.index)

    def matrix(frame: pd.DataFrame) -> sp.csr_matrix:
        rows = user_index.get_indexer(frame["user_id"])
        cols = item_index.get_indexer(frame["product_id"])
        ok = (rows >= 0) & (cols >= 0)
        data = np.ones(int(ok.sum()), dtype=np.float32)
        m = sp.csr_matrix((data, (rows[ok], cols[ok])), shape=(len(user_ids), len(keep_items)))
        m.data[:] = 1.0  # repeated purchases count once
        return m

    test = positives[positives["split"] == "test"]
    return TrainingData(
        user_ids=user_ids.astype(np.int64),
        item_ids=keep_items.astype(np.int64),
        fit=matrix(fit_rows),
        validation=matrix(latest),
        test=matrix(test),
    )
