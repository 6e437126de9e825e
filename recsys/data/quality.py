"""Data quality checks on interactions + catalogue, and the store that keeps their results.

``run_quality_checks`` is pure: frames and a clock reading in, a ``QualityReport`` out. A failed *hard*
check means the data must not be used (nothing is written, training refuses it); a failed *soft* check is
a warning. ``QualityStore`` keeps every result in the ``data_quality_checks`` table of ``monitor.db``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from recsys import db
from recsys.clock import format_ts, to_utc, utc_now
from recsys.data import schema as s
from recsys.errors import DataQualityError
from recsys.paths import ProjectPaths

HARD, SOFT = "hard", "soft"
DEFAULT_SHOP_START = datetime(2015, 1, 1, tzinfo=UTC)
VOLUME_CHANGE_LIMIT = 0.5  # more than 50% up or down against the previous data set is a warning
REPEAT_SHARE_LIMIT = 0.05  # repeat purchases are normal; more than 5% of rows looks like a double import
MAX_EXAMPLES = 5


@dataclass(frozen=True)
class CheckResult:
    """One check: did it pass, how bad a failure is, how many rows offend, a few examples, a sentence."""

    name: str
    passed: bool
    severity: str
    count: int
    examples: list = field(default_factory=list)
    message: str = ""


@dataclass(frozen=True)
class QualityReport:
    """All check results of one data set."""

    checks: list[CheckResult]

    @property
    def hard_failures(self) -> list[CheckResult]:
        """Failed hard checks (the data must not be used)."""
        return [c for c in self.checks if not c.passed and c.severity == HARD]

    @property
    def warnings(self) -> list[CheckResult]:
        """Failed soft checks."""
        return [c for c in self.checks if not c.passed and c.severity == SOFT]

    @property
    def passed(self) -> bool:
        """True when no hard check failed."""
        return not self.hard_failures

    def summary_lines(self) -> list[str]:
        """A headline plus one line per failed check."""
        head = (f"quality: {len(self.checks)} checks, {len(self.hard_failures)} failed hard, "
                f"{len(self.warnings)} warnings")
        lines = [head]
        for check in self.hard_failures + self.warnings:
            label = "FAIL" if check.severity == HARD else "WARN"
            examples = f" e.g. {'; '.join(map(str, check.examples[:3]))}" if check.examples else ""
            lines.append(f"  {label} {check.name}: {check.message}{examples}")
        return lines


def ensure_quality(report: QualityReport) -> None:
    """Raise DataQualityError listing every failed hard check."""
    if not report.passed:
        raise DataQualityError([f"{c.name}: {c.message}" for c in report.hard_failures])


def run_quality_checks(interactions: pd.DataFrame, products: pd.DataFrame, *, now: datetime,
                       previous_manifest=None, shop_start: datetime = DEFAULT_SHOP_START) -> QualityReport:
    """Every check on (interactions, products); ``previous_manifest`` (a Manifest) enables the volume check."""
    now, shop_start = to_utc(now), to_utc(shop_start)
    schema = _schema(interactions, products)
    checks = [schema, _not_empty(interactions), _nulls(interactions, products)]
    # The remaining checks read columns; they only run on the columns that are there and typed.
    usable = _usable_columns(interactions)
    checks.append(_needs(usable, (s.USER_ID, s.PRODUCT_ID, s.TIMESTAMP), "duplicate_rows", HARD,
                         lambda: _duplicate_rows(interactions)))
    checks.append(_needs(usable, (s.USER_ID, s.PRODUCT_ID), "repeated_pairs", SOFT,
                         lambda: _repeated_pairs(interactions)))
    checks.append(_needs(usable, (s.RATING,), "rating_range", HARD, lambda: _rating_range(interactions)))
    checks.append(_needs(usable, (s.TIMESTAMP,), "future_timestamps", HARD,
                         lambda: _future(interactions, now)))
    checks.append(_needs(usable, (s.TIMESTAMP,), "timestamps_before_shop_start", HARD,
                         lambda: _before_start(interactions, shop_start)))
    checks.append(_needs(usable, (s.PRODUCT_ID,), "unknown_products", HARD,
                         lambda: _unknown_products(interactions, products)))
    checks.append(_duplicate_catalogue_ids(products))
    checks.append(_volume_change(interactions, previous_manifest))
    return QualityReport(checks)


# --- checks --------------------------------------------------------------------------------

def _schema(interactions: pd.DataFrame, products: pd.DataFrame) -> CheckResult:
    problems = []
    # Derived columns (is_positive, split, product metadata and statistics) are checked when present.
    for table, frame, required, dtypes in (
        ("interactions", interactions, s.RAW_INTERACTION_COLUMNS, s.INTERACTION_DTYPES),
        ("products", products, (s.PRODUCT_ID,), s.PRODUCT_DTYPES),
    ):
        for column in required:
            if column not in frame:
                problems.append(f"{table}.{column}: missing")
        for column in dtypes:
            if column in frame and not s.dtype_matches(frame[column], dtypes[column]):
                problems.append(f"{table}.{column}: expected {dtypes[column]}, found {frame[column].dtype}")
    message = "columns and dtypes as expected" if not problems else f"{len(problems)} column problem(s)"
    return CheckResult("schema", not problems, HARD, len(problems), problems[:MAX_EXAMPLES], message)


def _not_empty(interactions: pd.DataFrame) -> CheckResult:
    n = len(interactions)
    return CheckResult("not_empty", n > 0, HARD, n, [], f"{n} interactions" if n else "no interactions")


def _nulls(interactions: pd.DataFrame, products: pd.DataFrame) -> CheckResult:
    found = []
    for table, frame in (("interactions", interactions), ("products", products)):
        counts = frame.isna().sum()
        found += [(f"{table}.{column}", int(count)) for column, count in counts.items() if count]
    total = sum(count for _, count in found)
    examples = [f"{column}: {count}" for column, count in found[:MAX_EXAMPLES]]
    message = "no missing values" if not total else f"{total} missing value(s) in {len(found)} column(s)"
    return CheckResult("nulls", not total, HARD, total, examples, message)


def _usable_columns(interactions: pd.DataFrame) -> set[str]:
    return {c for c in s.RAW_INTERACTION_COLUMNS
            if c in interactions and s.dtype_matches(interactions[c], s.INTERACTION_DTYPES[c])}


def _needs(usable: set[str], columns: tuple[str, ...], name: str, severity: str,
           run: Callable[[], CheckResult]) -> CheckResult:
    missing = [c for c in columns if c not in usable]
    if missing:
        return CheckResult(name, False, severity, 0, [], f"not run: column(s) {', '.join(missing)} unusable")
    return run()


def _duplicate_rows(interactions: pd.DataFrame) -> CheckResult:
    key = [s.USER_ID, s.PRODUCT_ID, s.TIMESTAMP]
    dup = interactions.duplicated(key, keep="first")
    count = int(dup.sum())
    examples = [_row_text(row) for row in interactions.loc[dup, key].head(MAX_EXAMPLES).itertuples(index=False)]
    message = "no duplicate rows" if not count else f"{count} row(s) repeat an earlier (user, product, timestamp)"
    return CheckResult("duplicate_rows", not count, HARD, count, examples, message)


def _repeated_pairs(interactions: pd.DataFrame) -> CheckResult:
    dup = interactions.duplicated([s.USER_ID, s.PRODUCT_ID], keep="first")
    count = int(dup.sum())
    share = count / len(interactions) if len(interactions) else 0.0
    examples = [f"user {u}, product {p}" for u, p in
                interactions.loc[dup, [s.USER_ID, s.PRODUCT_ID]].head(MAX_EXAMPLES).itertuples(index=False)]
    message = (f"{count} repeat purchase(s) of a (user, product) pair ({share:.1%} of rows; "
               f"warning above {REPEAT_SHARE_LIMIT:.0%})")
    return CheckResult("repeated_pairs", share <= REPEAT_SHARE_LIMIT, SOFT, count, examples, message)


def _rating_range(interactions: pd.DataFrame) -> CheckResult:
    ratings = interactions[s.RATING]
    bad = ~ratings.between(s.RATING_MIN, s.RATING_MAX)
    count = int(bad.sum())
    examples = [f"user {u}, product {p}: rating {r}" for u, p, r in
                interactions.loc[bad, [s.USER_ID, s.PRODUCT_ID, s.RATING]].head(MAX_EXAMPLES)
                .itertuples(index=False)] if {s.USER_ID, s.PRODUCT_ID} <= set(interactions) else []
    message = "all ratings within 1..5" if not count else f"{count} rating(s) outside 1..5"
    return CheckResult("rating_range", not count, HARD, count, examples, message)


def _future(interactions: pd.DataFrame, now: datetime) -> CheckResult:
    stamps = interactions[s.TIMESTAMP]
    bad = stamps > pd.Timestamp(now)
    return _time_result("future_timestamps", stamps, bad, f"after now ({format_ts(now)[:19]} UTC)")


def _before_start(interactions: pd.DataFrame, shop_start: datetime) -> CheckResult:
    stamps = interactions[s.TIMESTAMP]
    bad = stamps < pd.Timestamp(shop_start)
    return _time_result("timestamps_before_shop_start", stamps, bad,
                        f"before the shop existed ({shop_start.date().isoformat()})")


def _time_result(name: str, stamps: pd.Series, bad: pd.Series, what: str) -> CheckResult:
    count = int(bad.sum())
    examples = [str(ts) for ts in stamps[bad].sort_values().head(MAX_EXAMPLES)]
    message = f"no timestamps {what}" if not count else f"{count} timestamp(s) {what}"
    return CheckResult(name, not count, HARD, count, examples, message)


def _unknown_products(interactions: pd.DataFrame, products: pd.DataFrame) -> CheckResult:
    known = products[s.PRODUCT_ID].to_numpy() if s.PRODUCT_ID in products else np.array([], dtype=np.int64)
    ids = interactions[s.PRODUCT_ID].to_numpy()
    unknown = np.unique(ids[~np.isin(ids, known)])
    rows = int((~np.isin(ids, known)).sum())
    message = ("every product is in the catalogue" if not len(unknown) else
               f"{len(unknown)} product id(s) in {rows} interaction(s) are not in the catalogue")
    return CheckResult("unknown_products", not len(unknown), HARD, int(len(unknown)),
                       [int(i) for i in unknown[:MAX_EXAMPLES]], message)


def _duplicate_catalogue_ids(products: pd.DataFrame) -> CheckResult:
    if s.PRODUCT_ID not in products:
        return CheckResult("catalogue_ids_unique", False, HARD, 0, [], "not run: products.product_id missing")
    dup = products[s.PRODUCT_ID].duplicated()
    count = int(dup.sum())
    examples = [int(i) for i in products.loc[dup, s.PRODUCT_ID].head(MAX_EXAMPLES)]
    message = "product ids are unique" if not count else f"{count} product id(s) appear more than once"
    return CheckResult("catalogue_ids_unique", not count, HARD, count, examples, message)


def _volume_change(interactions: pd.DataFrame, previous) -> CheckResult:
    if previous is None or not previous.n_interactions:
        return CheckResult("volume_change", True, SOFT, 0, [], "no previous data set to compare with")
    before, now = previous.n_interactions, len(interactions)
    change = now / before - 1.0
    message = (f"{now} interactions vs {before} in {previous.data_version} ({change:+.0%}; "
               f"warning beyond ±{VOLUME_CHANGE_LIMIT:.0%})")
    return CheckResult("volume_change", abs(change) <= VOLUME_CHANGE_LIMIT, SOFT, now - before,
                       [f"previous {before}", f"now {now}"], message)


def _row_text(row: tuple) -> str:
    user, product, ts = row
    return f"user {user}, product {product}, {ts}"


# --- store ---------------------------------------------------------------------------------

DDL = """
CREATE TABLE IF NOT EXISTS data_quality_checks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    timestamp TEXT NOT NULL,
    data_version TEXT,
    check_name TEXT NOT NULL,
    passed INTEGER NOT NULL,
    severity TEXT NOT NULL,
    count INTEGER NOT NULL,
    examples TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_data_quality_checks_ts ON data_quality_checks (timestamp);
"""


class QualityStore:
    """The ``data_quality_checks`` table in ``monitor.db``: one row per check per run."""

    def __init__(self, paths: ProjectPaths, clock: Callable[[], datetime] = utc_now):
        self._conn = db.connect(paths.monitor_db)
        db.apply_schema(self._conn, DDL)
        self._clock = clock

    def record(self, report: QualityReport, data_version: str | None) -> str:
        """Store every check of ``report`` in one transaction; returns the run's timestamp text."""
        stamp = format_ts(self._clock())
        rows = [(stamp, data_version, c.name, int(c.passed), c.severity, int(c.count),
                 json.dumps(c.examples, ensure_ascii=False, default=str), c.message) for c in report.checks]
        with self._conn:
            self._conn.executemany(
                "INSERT INTO data_quality_checks (timestamp, data_version, check_name, passed, severity, count, "
                "examples, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        return stamp

    def latest(self) -> list[dict]:
        """The rows of the most recent run (empty when nothing was recorded)."""
        rows = self._conn.execute(
            "SELECT * FROM data_quality_checks WHERE timestamp = (SELECT MAX(timestamp) FROM data_quality_checks) "
            "ORDER BY id").fetchall()
        return [{**dict(row), "examples": json.loads(row["examples"])} for row in rows]

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def __enter__(self) -> QualityStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
