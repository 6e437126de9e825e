"""The one road into ``data/processed``: prepare, check, record the checks, write only data that passed.

``recsys data generate`` and ``recsys data load`` both end here; ``check_processed`` re-runs the checks on
what is already there (``recsys data check``, the monitor's daily job).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import pandas as pd

from recsys.clock import Clock, utc_now
from recsys.data.dataset import (
    Dataset,
    Manifest,
    content_version,
    load_processed,
    prepare,
    read_manifest_if_any,
    write_prepared,
)
from recsys.data.quality import (
    DEFAULT_SHOP_START,
    QualityReport,
    QualityStore,
    ensure_quality,
    run_quality_checks,
)
from recsys.paths import ProjectPaths


@dataclass(frozen=True)
class IngestResult:
    """What an ingest did: the checks, the content version, and the manifest if the data was written."""

    report: QualityReport
    data_version: str | None
    manifest: Manifest | None

    @property
    def written(self) -> bool:
        """True when the processed files were replaced."""
        return self.manifest is not None


@dataclass(frozen=True)
class PreviousData:
    """The previous data set's size, for the volume-change check."""

    data_version: str
    n_interactions: int


def ingest(paths: ProjectPaths, interactions: pd.DataFrame, products: pd.DataFrame | None, source: dict, *,
           shop_start: datetime = DEFAULT_SHOP_START, clock: Clock = utc_now) -> IngestResult:
    """Prepare the frames, run and store the quality checks, and write the processed files if none failed hard.

    Nothing in ``data/processed`` changes when a hard check fails.
    """
    now = clock()
    try:
        prepared, catalogue = prepare(interactions, products)
    except (KeyError, ValueError, TypeError):
        # Frames too broken to prepare: the checks on the raw frames say why (schema, nulls).
        raw_products = products if products is not None else pd.DataFrame()
        report = run_quality_checks(interactions, raw_products, now=now, shop_start=shop_start)
        _record(paths, report, None, clock)
        return IngestResult(report, None, None)
    version = content_version(prepared, catalogue)
    report = run_quality_checks(prepared, catalogue, now=now, previous_manifest=read_manifest_if_any(paths),
                                shop_start=shop_start)
    _record(paths, report, version, clock)
    if not report.passed:
        return IngestResult(report, version, None)
    source = {**source, "shop_start": shop_start.date().isoformat()}
    return IngestResult(report, version, write_prepared(paths, prepared, catalogue, version, source))


def check_processed(paths: ProjectPaths, *, clock: Clock = utc_now, record: bool = True) -> QualityReport:
    """Re-run the quality checks on the processed data (volume compared with the data set it replaced)."""
    return check_dataset(paths, load_processed(paths), clock=clock, record=record)


def check_dataset(paths: ProjectPaths, dataset: Dataset, *, clock: Clock = utc_now,
                  record: bool = True) -> QualityReport:
    """The quality checks of a loaded data set, stored in ``data_quality_checks`` unless ``record`` is False."""
    manifest = dataset.manifest
    previous = PreviousData(**manifest.previous) if manifest.previous else None
    report = run_quality_checks(dataset.interactions, dataset.products, now=clock(), previous_manifest=previous,
                                shop_start=shop_start_of(manifest))
    if record:
        _record(paths, report, manifest.data_version, clock)
    return report


def load_checked(paths: ProjectPaths, *, clock: Clock = utc_now) -> Dataset:
    """The processed data set, after its quality checks passed (recorded); DataQualityError otherwise.

    What a training run calls instead of ``load_processed``, so it never trains on data that fails a hard check.
    """
    dataset = load_processed(paths)
    ensure_quality(check_dataset(paths, dataset, clock=clock))
    return dataset


def shop_start_of(manifest: Manifest) -> datetime:
    """The shop start the data was checked against when it was written."""
    text = manifest.source.get("shop_start")
    return parse_day(text) if text else DEFAULT_SHOP_START


def parse_day(text: str | date | datetime) -> datetime:
    """'YYYY-MM-DD' (or a date) → that day's UTC midnight."""
    if isinstance(text, datetime):
        return text if text.tzinfo else text.replace(tzinfo=UTC)
    day = text if isinstance(text, date) else date.fromisoformat(str(text))
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _record(paths: ProjectPaths, report: QualityReport, version: str | None, clock: Clock) -> None:
    with QualityStore(paths, clock) as store:
        store.record(report, version)
