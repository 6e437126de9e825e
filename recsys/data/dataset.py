"""The processed data set on disk: interactions and products parquet files plus a JSON manifest.

``prepare`` turns raw (user_id, product_id, rating, timestamp) rows into the processed layout (positive flag,
train/test split, product statistics); ``write_processed`` writes it atomically with a content-hash
``data_version``; ``load_processed`` reads it back and refuses files that are missing, corrupt, or from
different writes.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from filelock import FileLock

from recsys.atomicfile import write_atomic
from recsys.clock import format_ts, utc_now
from recsys.data import schema as s
from recsys.errors import DataFileError
from recsys.paths import ProjectPaths

VERSION_KEY = b"recsys.data_version"  # parquet metadata: ties both files to one manifest
WRITE_LOCK_TIMEOUT_S = 300
READ_ATTEMPTS, READ_RETRY_S = 5, 0.5


@dataclass(frozen=True)
class Manifest:
    """What ``data/processed/manifest.json`` records about one processed data set."""

    data_version: str
    created_at: str
    source: dict
    n_users: int
    n_products: int
    n_interactions: int
    n_trainable_users: int
    n_test: int
    rating_distribution: dict[str, int]
    previous: dict | None = field(default=None)  # data_version and n_interactions of the data it replaced

    @property
    def five_star_share(self) -> float:
        """Share of 5★ ratings."""
        total = sum(self.rating_distribution.values())
        return self.rating_distribution.get("5", 0) / total if total else 0.0

    def to_dict(self) -> dict:
        """Plain JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Manifest:
        """Back from ``to_dict``; unknown keys are ignored so older readers survive newer manifests."""
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)


@dataclass(frozen=True)
class Dataset:
    """A loaded processed data set."""

    interactions: pd.DataFrame
    products: pd.DataFrame
    manifest: Manifest

    @property
    def data_version(self) -> str:
        """Content hash of the data."""
        return self.manifest.data_version

    @property
    def train(self) -> pd.DataFrame:
        """Rows with split == 'train'."""
        return self.interactions[self.interactions[s.SPLIT] == s.SPLIT_TRAIN]

    @property
    def test(self) -> pd.DataFrame:
        """Rows with split == 'test' (each trainable user's latest positive)."""
        return self.interactions[self.interactions[s.SPLIT] == s.SPLIT_TEST]


# --- preparing -------------------------------------------------------------------------------

def assign_split(interactions: pd.DataFrame) -> pd.Series:
    """'test' for each trainable user's latest positive (ties: highest product_id), else 'train'.

    A trainable user has at least two interactions and at least one positive (rating >= 4).
    """
    positive = interactions[s.RATING].to_numpy() >= s.POSITIVE_THRESHOLD
    users = interactions[s.USER_ID].to_numpy()
    _, inverse, per_user = np.unique(users, return_inverse=True, return_counts=True)
    candidates = np.flatnonzero(positive & (per_user[inverse] >= 2))
    is_test = np.zeros(len(interactions), dtype=bool)
    if len(candidates):
        # int64 ticks: a tz-aware column's to_numpy() would build one Timestamp object per row.
        ticks = interactions[s.TIMESTAMP].array.asi8[candidates]
        # Sort candidates by (user, timestamp, product_id, rating); the last row of each user is the test row.
        order = np.lexsort((interactions[s.RATING].to_numpy()[candidates],
                            interactions[s.PRODUCT_ID].to_numpy()[candidates], ticks, users[candidates]))
        ranked = candidates[order]
        ranked_users = users[ranked]
        last = np.r_[ranked_users[1:] != ranked_users[:-1], True]
        is_test[ranked[last]] = True
    return pd.Series(np.where(is_test, s.SPLIT_TEST, s.SPLIT_TRAIN), index=interactions.index, dtype="str")


def trainable_users(interactions: pd.DataFrame) -> np.ndarray:
    """Sorted ids of users with >= 2 interactions and >= 1 positive."""
    grouped = interactions.groupby(s.USER_ID, sort=True)[s.RATING]
    stats = pd.DataFrame({"n": grouped.size(), "pos": grouped.max()})
    return stats.index[(stats["n"] >= 2) & (stats["pos"] >= s.POSITIVE_THRESHOLD)].to_numpy()


def prepare(interactions: pd.DataFrame, products: pd.DataFrame | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Processed (interactions, products): canonical dtypes and order, is_positive, split, product statistics.

    Without a catalogue, minimal product rows are made for every product seen ("Item <id>").
    Idempotent: preparing prepared frames gives the same frames.
    """
    frame = interactions.loc[:, list(s.RAW_INTERACTION_COLUMNS)].copy()
    for column in (s.USER_ID, s.PRODUCT_ID, s.RATING):
        frame[column] = _as_int64(frame[column])
    frame[s.TIMESTAMP] = _utc(frame[s.TIMESTAMP])
    frame = frame.sort_values([s.USER_ID, s.TIMESTAMP, s.PRODUCT_ID, s.RATING], kind="stable")
    frame = frame.reset_index(drop=True)
    frame[s.IS_POSITIVE] = frame[s.RATING] >= s.POSITIVE_THRESHOLD
    frame[s.SPLIT] = assign_split(frame)
    return frame, _prepare_products(products, frame)


def _as_int64(values: pd.Series) -> pd.Series:
    """int64 without silent truncation: a rating of 4.5 must fail the checks, not become 4."""
    if pd.api.types.is_integer_dtype(values.dtype) and not values.isna().any():
        return values.astype(np.int64)
    number = pd.to_numeric(values, errors="coerce").astype(np.float64)
    if not (np.isfinite(number) & (number == np.floor(number))).all():
        raise ValueError(f"column {values.name} holds values that are not whole numbers")
    return number.astype(np.int64)


def _utc(stamps: pd.Series) -> pd.Series:
    if not isinstance(stamps.dtype, pd.DatetimeTZDtype):
        stamps = pd.to_datetime(stamps).dt.tz_localize("UTC")
    return stamps.dt.tz_convert("UTC").astype(s.TIMESTAMP_DTYPE)


def _prepare_products(products: pd.DataFrame | None, interactions: pd.DataFrame) -> pd.DataFrame:
    if products is None:
        ids = np.unique(interactions[s.PRODUCT_ID].to_numpy())
        products = pd.DataFrame({s.PRODUCT_ID: ids, s.NAME: [f"Item {i}" for i in ids]})
    frame = products.copy()
    frame[s.PRODUCT_ID] = frame[s.PRODUCT_ID].astype(np.int64)
    fallback_names = "Item " + frame[s.PRODUCT_ID].astype(str)
    frame[s.NAME] = frame[s.NAME].fillna(fallback_names) if s.NAME in frame else fallback_names
    for column, default in s.METADATA_DEFAULTS.items():
        if column not in frame:
            frame[column] = default
        else:
            frame[column] = frame[column].fillna(default)
    for column in s.METADATA_COLUMNS:
        frame[column] = frame[column].astype(s.PRODUCT_DTYPES[column])
    grouped = interactions.groupby(s.PRODUCT_ID)[s.RATING]
    counts = frame[s.PRODUCT_ID].map(grouped.size())
    # No ratings yet: 0 ratings and avg 0.0 (not NaN, which JSON responses cannot carry).
    frame[s.NUM_RATINGS] = counts.fillna(0).astype(np.int64)
    frame[s.AVG_RATING] = frame[s.PRODUCT_ID].map(grouped.mean()).fillna(0.0).astype(np.float64)
    frame = frame.loc[:, list(s.PRODUCT_COLUMNS)]
    return frame.sort_values(s.PRODUCT_ID, kind="stable").reset_index(drop=True)


# --- versioning ------------------------------------------------------------------------------

def content_version(interactions: pd.DataFrame, products: pd.DataFrame) -> str:
    """First 12 hex digits of sha256 over the canonical bytes of both frames (row order does not matter)."""
    digest = hashlib.sha256()
    inter = interactions.sort_values([s.USER_ID, s.PRODUCT_ID, s.TIMESTAMP, s.RATING], kind="stable")
    prods = products.sort_values(s.PRODUCT_ID, kind="stable")
    for name, frame, columns in (("interactions", inter, s.INTERACTION_COLUMNS),
                                 ("products", prods, s.PRODUCT_COLUMNS)):
        digest.update(f"{name}:{len(frame)}".encode())
        for column in columns:
            digest.update(f"|{column}|".encode())
            digest.update(_column_bytes(frame[column]))
    return digest.hexdigest()[:12]


def _column_bytes(column: pd.Series) -> bytes:
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        naive = column.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]")
        return naive.to_numpy().view("<i8").tobytes()
    if pd.api.types.is_bool_dtype(column.dtype):
        return column.to_numpy(dtype=np.uint8).tobytes()
    if pd.api.types.is_integer_dtype(column.dtype):
        return column.to_numpy(dtype="<i8").tobytes()
    if pd.api.types.is_float_dtype(column.dtype):
        return column.to_numpy(dtype="<f8", na_value=np.nan).tobytes()
    # Text: length-prefixed UTF-8, so ("ab", "c") and ("a", "bc") differ.
    text = column.astype(str)
    return text.str.len().to_numpy(dtype="<i8").tobytes() + "".join(text.tolist()).encode()


# --- writing and reading -----------------------------------------------------------------------

def summarize(interactions: pd.DataFrame, products: pd.DataFrame, data_version: str, source: dict,
              previous: Manifest | None = None) -> Manifest:
    """The manifest of prepared frames."""
    ratings = interactions[s.RATING].value_counts().sort_index()
    prior = None
    if previous is not None:
        prior = {"data_version": previous.data_version, "n_interactions": previous.n_interactions}
    return Manifest(
        data_version=data_version,
        created_at=format_ts(utc_now()),
        source=dict(source),
        n_users=int(interactions[s.USER_ID].nunique()),
        n_products=len(products),
        n_interactions=len(interactions),
        n_trainable_users=len(trainable_users(interactions)),
        n_test=int((interactions[s.SPLIT] == s.SPLIT_TEST).sum()),
        rating_distribution={str(int(k)): int(v) for k, v in ratings.items()},
        previous=prior,
    )


def write_processed(paths: ProjectPaths, interactions_df: pd.DataFrame, products_df: pd.DataFrame | None,
                    source: dict) -> Manifest:
    """Prepare and write interactions, products and manifest, each atomically (temp file + rename).

    The manifest is written last; both parquet files carry its data_version in their metadata, so a reader
    can tell files from different writes apart.
    """
    interactions, products = prepare(interactions_df, products_df)
    return write_prepared(paths, interactions, products, content_version(interactions, products), source)


def write_prepared(paths: ProjectPaths, interactions: pd.DataFrame, products: pd.DataFrame, data_version: str,
                   source: dict) -> Manifest:
    """``write_processed`` for frames that ``prepare`` already made, whose version is known."""
    paths.data_dir.mkdir(parents=True, exist_ok=True)
    # One writer at a time, so the three files of one write always end up together.
    with FileLock(str(paths.data_dir.parent / ".processed.lock"), timeout=WRITE_LOCK_TIMEOUT_S):
        manifest = summarize(interactions, products, data_version, source, previous=read_manifest_if_any(paths))
        write_atomic(paths.interactions,
                      lambda handle: pq.write_table(_table(interactions, data_version), handle))
        write_atomic(paths.products, lambda handle: pq.write_table(_table(products, data_version), handle))
        text = json.dumps(manifest.to_dict(), indent=2, ensure_ascii=False).encode()
        write_atomic(paths.data_manifest, lambda handle: handle.write(text))
    return manifest


def read_manifest_if_any(paths: ProjectPaths) -> Manifest | None:
    """The current manifest, or None when there is none or it cannot be read."""
    try:
        return read_manifest(paths)
    except DataFileError:
        return None


def read_manifest(paths: ProjectPaths) -> Manifest:
    """The manifest of the processed data; DataFileError when missing or unreadable."""
    path = paths.data_manifest
    if not path.exists():
        raise DataFileError(path, "no processed data: run `recsys data generate` or `recsys data load` first")
    try:
        return Manifest.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as exc:
        raise DataFileError(path, f"manifest is not valid: {exc}") from exc


def load_processed(paths: ProjectPaths) -> Dataset:
    """The processed data set; DataFileError naming the file when one is missing, corrupt or mismatched."""
    for attempt in range(READ_ATTEMPTS):
        manifest = read_manifest(paths)
        interactions, interactions_version = _read_parquet(paths.interactions, s.INTERACTION_DTYPES)
        products, products_version = _read_parquet(paths.products, s.PRODUCT_DTYPES)
        stale = [(path, version) for path, version in ((paths.interactions, interactions_version),
                                                       (paths.products, products_version))
                 if version != manifest.data_version]
        if not stale:
            return Dataset(interactions=interactions, products=products, manifest=manifest)
        if attempt + 1 < READ_ATTEMPTS:
            time.sleep(READ_RETRY_S)  # a write may be between its files: read again once it has finished
    path, version = stale[0]
    raise DataFileError(path, f"data_version {version or 'none'} does not match the manifest's "
                              f"{manifest.data_version} (files from different writes)")


def _table(frame: pd.DataFrame, data_version: str) -> pa.Table:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return table.replace_schema_metadata({**(table.schema.metadata or {}), VERSION_KEY: data_version.encode()})


def _read_parquet(path: Path, dtypes: dict[str, str]) -> tuple[pd.DataFrame, str]:
    """The frame and the data_version stored in its metadata."""
    if not path.exists():
        raise DataFileError(path, "file is missing: run `recsys data generate` or `recsys data load` again")
    try:
        # One open file for the whole read: given a path, pyarrow may open it more than once, and a
        # writer's rename in between would mix two files' bytes.
        with open(path, "rb") as handle:
            table = pq.read_table(handle)
    except (OSError, pa.ArrowException) as exc:
        raise DataFileError(path, f"not a readable parquet file: {exc}") from exc
    stored = (table.schema.metadata or {}).get(VERSION_KEY, b"").decode()
    frame = table.to_pandas()
    for column, dtype in dtypes.items():
        if column not in frame:
            raise DataFileError(path, "column is missing", field=column)
        if not s.dtype_matches(frame[column], dtype):
            raise DataFileError(path, f"expected dtype {dtype}, found {frame[column].dtype}", field=column)
    return frame.loc[:, list(dtypes)], stored
