"""A user's own interactions file (CSV, Parquet or MovieLens) read into the raw interactions layout.

Every problem becomes a ``DataFileError`` naming the file, the first bad row and the field. Row numbers:
for CSV and MovieLens files the line number in the file (a CSV header is line 1, so this is also the row
number a spreadsheet shows); for Parquet the 1-based data row.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from recsys.data import schema as s
from recsys.errors import DataFileError

FORMATS = ("auto", "csv", "parquet", "movielens")
INTERACTION_FIELDS = s.RAW_INTERACTION_COLUMNS
PRODUCT_FIELDS = (s.PRODUCT_ID, *s.METADATA_COLUMNS)
MOVIELENS_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)
_INT_TEXT = re.compile(r"[+-]?\d+")
_LINE_IN_PARSER_ERROR = re.compile(r"line (\d+)")


@dataclass
class _Raw:
    """Columns read from a file as found, plus the row number to report for each row."""

    columns: dict[str, pd.Series]
    rows: np.ndarray


# A check: (field, mask of bad rows, describe(position) -> reason)
_Check = tuple[str, np.ndarray, Callable[[int], str]]


def detect_format(path: Path) -> str:
    """'csv', 'parquet' or 'movielens' from the file name; DataFileError when it cannot tell."""
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".csv", ".tsv", ".txt")):
        return "csv"
    if name in ("u.data", "u.item", "ratings.dat") or name.endswith((".data", ".dat")):
        return "movielens"
    raise DataFileError(path, "cannot tell the format from the file name; pass --format csv|parquet|movielens")


def load_file(path: str | Path, fmt: str = "auto",
              column_map: dict[str, str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Raw interactions (user_id, product_id, rating, timestamp) and, when the file has one, a catalogue.

    ``column_map`` maps our names to the file's (``{'user_id': 'uid'}``); MovieLens files have fixed columns
    and bring a catalogue when ``u.item`` lies beside ``u.data``.
    """
    path = _existing(Path(path))
    fmt = _check_format(path, fmt)
    products = None
    if fmt == "movielens":
        raw, checks = _read_movielens(path)
        item_file = path.with_name("u.item")
        if path.name == "u.data" and item_file.exists():
            products = _read_movielens_items(item_file)
    else:
        raw = _read_table(path, fmt, _names(column_map, INTERACTION_FIELDS), required=INTERACTION_FIELDS)
        checks = []
    parsed: dict[str, pd.Series] = {}
    parsed[s.USER_ID], bad_user, why_user = _integers(raw.columns[s.USER_ID])
    parsed[s.PRODUCT_ID], bad_product, why_product = _integers(raw.columns[s.PRODUCT_ID])
    parsed[s.RATING], bad_rating, why_rating = _ratings(raw.columns[s.RATING])
    parsed[s.TIMESTAMP], bad_time, why_time = _timestamps(raw.columns[s.TIMESTAMP])
    checks += [(s.USER_ID, bad_user, why_user), (s.PRODUCT_ID, bad_product, why_product),
               (s.RATING, bad_rating, why_rating), (s.TIMESTAMP, bad_time, why_time)]
    _raise_first(path, raw.rows, checks)
    return pd.DataFrame(parsed).reset_index(drop=True), products


def load_products(path: str | Path, fmt: str = "auto", column_map: dict[str, str] | None = None) -> pd.DataFrame:
    """A catalogue file (CSV or Parquet): product_id required; name, brand, category, price, skin_type,
    description optional (defaults fill what is missing)."""
    path = _existing(Path(path))
    fmt = _check_format(path, fmt)
    if fmt == "movielens":
        return _read_movielens_items(path)
    raw = _read_table(path, fmt, _names(column_map, PRODUCT_FIELDS), required=(s.PRODUCT_ID,))
    ids, bad_id, why_id = _integers(raw.columns[s.PRODUCT_ID])
    first_seen = pd.Series(raw.rows).groupby(ids.to_numpy()).transform("first").to_numpy()
    duplicate = ~bad_id & pd.Series(ids).duplicated().to_numpy()
    checks: list[_Check] = [(s.PRODUCT_ID, bad_id, why_id), (
        s.PRODUCT_ID, duplicate, lambda i: f"duplicate product_id {ids.iloc[i]} (first at row {first_seen[i]})")]
    frame = {s.PRODUCT_ID: ids}
    if s.PRICE in raw.columns:
        price = raw.columns[s.PRICE]
        empty = price.isna() | (price.astype(str).str.strip() == "")
        number = pd.to_numeric(price.where(~empty), errors="coerce")
        bad_price = (~empty & (number.isna() | ~np.isfinite(number) | (number < 0))).to_numpy()
        checks.append((s.PRICE, bad_price, lambda i: f"not a price (a number >= 0): {price.iloc[i]!r}"))
        frame[s.PRICE] = number.astype(np.float64)
    for column in (s.NAME, *s.METADATA_DEFAULTS):
        if column in raw.columns and column != s.PRICE:
            text = _text(raw.columns[column])
            frame[column] = text.where(text != "", None)  # empty cells are missing: prepare fills defaults
    _raise_first(path, raw.rows, checks)
    return pd.DataFrame(frame).reset_index(drop=True)


# --- reading ------------------------------------------------------------------------------------

def _existing(path: Path) -> Path:
    if path.is_dir():
        if (path / "u.data").exists():
            return path / "u.data"
        raise DataFileError(path, "is a directory without a MovieLens u.data file")
    if not path.is_file():
        raise DataFileError(path, "file not found")
    if path.stat().st_size == 0:
        raise DataFileError(path, "file is empty")
    return path


def _check_format(path: Path, fmt: str) -> str:
    if fmt not in FORMATS:
        raise DataFileError(path, f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    return detect_format(path) if fmt == "auto" else fmt


def _names(column_map: dict[str, str] | None, fields: tuple[str, ...]) -> dict[str, str]:
    """Our field name → the file's column name."""
    unknown = sorted(set(column_map or {}) - set(fields))
    if unknown:
        raise ValueError(f"cannot map {', '.join(unknown)}: known fields are {', '.join(fields)}")
    return {field: (column_map or {}).get(field, field) for field in fields}


def _read_table(path: Path, fmt: str, names: dict[str, str], required: tuple[str, ...]) -> _Raw:
    if fmt == "parquet":
        try:
            frame = pq.read_table(path).to_pandas()
        except (OSError, pa.ArrowException) as exc:
            raise DataFileError(path, f"not a readable parquet file: {exc}") from exc
        rows = np.arange(1, len(frame) + 1)
    else:
        frame, rows = _read_csv(path)
    if len(frame) == 0:
        raise DataFileError(path, "no data rows")
    present = {str(column).strip(): column for column in frame.columns}
    columns = {}
    for field, column in names.items():
        if column in present:
            columns[field] = frame[present[column]].reset_index(drop=True)
        elif field in required:
            mapped = f" (for {field})" if column != field else ""
            raise DataFileError(path, f"missing column '{column}'{mapped}; the file has: "
                                      f"{', '.join(map(str, frame.columns))}", field=field)
    return _Raw(columns, rows)


def _read_csv(path: Path) -> tuple[pd.DataFrame, np.ndarray]:
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        # Blank lines are kept (then dropped below) so that row i is still file line i + 2.
        frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, na_filter=False,
                            skip_blank_lines=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError as exc:
        raise DataFileError(path, "file is empty") from exc
    except pd.errors.ParserError as exc:
        found = _LINE_IN_PARSER_ERROR.search(str(exc))
        raise DataFileError(path, f"wrong number of fields: {str(exc).split(': ')[-1].strip()}",
                            row=int(found.group(1)) if found else None) from exc
    except UnicodeDecodeError as exc:
        raise DataFileError(path, f"not UTF-8 text: {exc.reason} at byte {exc.start}") from exc
    rows = np.arange(2, len(frame) + 2)
    blank = (frame == "").all(axis=1).to_numpy() if len(frame.columns) else np.zeros(len(frame), bool)
    return frame[~blank].reset_index(drop=True), rows[~blank]


def _read_movielens(path: Path) -> tuple[_Raw, list[_Check]]:
    """``u.data`` (tab-separated) or ``ratings.dat`` (``::``): user, item, rating, epoch seconds, no header."""
    text = _decode(path)
    lines = text.splitlines()
    sep = "::" if "::" in next((line for line in lines if line.strip()), "") else "\t"
    numbered = [(number, line) for number, line in enumerate(lines, start=1) if line.strip()]
    if not numbered:
        raise DataFileError(path, "file is empty")
    fields = [line.split(sep) for _, line in numbered]
    counts = np.array([len(parts) for parts in fields])
    padded = [(parts + ["", "", "", ""])[:4] for parts in fields]
    columns = {field: pd.Series([parts[k] for parts in padded], dtype=object)
               for k, field in enumerate(INTERACTION_FIELDS)}
    rows = np.array([number for number, _ in numbered])
    separator = "tab" if sep == "\t" else "'::'"
    wrong = (
        "fields", counts != 4,
        lambda i: f"expected 4 {separator}-separated fields (user, item, rating, timestamp), found {counts[i]}",
    )
    return _Raw(columns, rows), [wrong]


def _read_movielens_items(path: Path) -> pd.DataFrame:
    """MovieLens 100k ``u.item``: id|title|release date|video date|URL|19 genre flags."""
    ids, names, genres, rows = [], [], [], []
    for number, line in enumerate(_decode(path).splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split("|")
        if len(parts) != 5 + len(MOVIELENS_GENRES) or not _INT_TEXT.fullmatch(parts[0].strip()):
            raise DataFileError(path, f"expected {5 + len(MOVIELENS_GENRES)} '|'-separated fields starting with "
                                      f"a movie id, found {len(parts)}", row=number)
        flags = [name for name, flag in zip(MOVIELENS_GENRES, parts[5:], strict=True) if flag.strip() == "1"]
        ids.append(int(parts[0]))
        names.append(parts[1].strip())
        genres.append(flags or ["unknown"])
        rows.append(number)
    frame = pd.DataFrame({s.PRODUCT_ID: np.array(ids, dtype=np.int64), s.NAME: names,
                          s.CATEGORY: [g[0] for g in genres],
                          s.DESCRIPTION: [f"{n}. {', '.join(g)}." for n, g in zip(names, genres, strict=True)]})
    duplicate = frame[s.PRODUCT_ID].duplicated().to_numpy()
    if duplicate.any():
        i = int(np.argmax(duplicate))
        raise DataFileError(path, f"duplicate movie id {ids[i]}", row=rows[i], field=s.PRODUCT_ID)
    return frame


def _decode(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # MovieLens 100k ships latin-1 titles


# --- parsing values -----------------------------------------------------------------------------

def _raise_first(path: Path, rows: np.ndarray, checks: list[_Check]) -> None:
    """DataFileError for the earliest bad row (ties: the first failing check in order)."""
    best = None
    for order, (field, bad, why) in enumerate(checks):
        if bad.any():
            position = int(np.argmax(bad))
            if best is None or (position, order) < best[:2]:
                best = (position, order, field, why)
    if best is not None:
        position, _, field, why = best
        raise DataFileError(path, why(position), row=int(rows[position]), field=None if field == "fields" else field)


def _text(values: pd.Series) -> pd.Series:
    """Values as stripped text; missing values become ''."""
    return values.astype(object).where(values.notna(), "").map(str).str.strip()


def _integers(values: pd.Series) -> tuple[pd.Series, np.ndarray, Callable[[int], str]]:
    """int64 values, bad-row mask and reason; integral floats ('12.0') count as integers."""
    n = len(values)
    result, bad = np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool)
    if pd.api.types.is_integer_dtype(values.dtype):
        ok = values.notna().to_numpy()
        result[ok] = values[ok].astype(np.int64).to_numpy()
        bad = ~ok
    elif not pd.api.types.is_bool_dtype(values.dtype):
        if pd.api.types.is_float_dtype(values.dtype):
            number = values.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            text = _text(values)
            exact = text.str.fullmatch(_INT_TEXT.pattern).to_numpy(dtype=bool)
            # Parse digit strings exactly (float64 would lose digits above 2**53).
            for position, value in zip(np.flatnonzero(exact), text[exact].map(int), strict=True):
                if -(2**63) <= value < 2**63:
                    result[position], bad[position] = value, False
            number = pd.to_numeric(text.where(~exact), errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        safe = np.nan_to_num(number, nan=0.5, posinf=0.5, neginf=0.5)
        ok = np.isfinite(number) & (np.floor(safe) == safe) & (np.abs(safe) < 2**53)
        result[ok], bad[ok] = safe[ok].astype(np.int64), False

    def why(i: int) -> str:
        value = values.iloc[i]
        return "missing value" if _is_missing(value) else f"not an integer: {value!r}"

    return pd.Series(result), bad, why


def _is_missing(value: object) -> bool:
    return value is None or value is pd.NaT or (isinstance(value, float) and np.isnan(value)) \
        or str(value).strip() in ("", "nan", "NaN", "NaT", "None", "<NA>")


def _ratings(values: pd.Series) -> tuple[pd.Series, np.ndarray, Callable[[int], str]]:
    """Whole-number ratings 1..5."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        number = values.astype(np.float64)
    else:
        number = pd.to_numeric(_text(values), errors="coerce").astype(np.float64)
    array = number.to_numpy()
    is_number = np.isfinite(array)
    whole = is_number & (np.floor(np.nan_to_num(array)) == np.nan_to_num(array))
    in_range = whole & (array >= s.RATING_MIN) & (array <= s.RATING_MAX)

    def why(i: int) -> str:
        value = values.iloc[i]
        if not is_number[i]:
            return "missing value" if _is_missing(value) else f"not a number: {value!r}"
        if not whole[i]:
            return f"not a whole-number rating: {value!r} (ratings are 1..5)"
        return f"rating {int(array[i])} is outside {s.RATING_MIN}..{s.RATING_MAX}"

    return pd.Series(np.where(in_range, array, 0).astype(np.int64)), ~in_range, why


def _timestamps(values: pd.Series) -> tuple[pd.Series, np.ndarray, Callable[[int], str]]:
    """UTC timestamps from datetimes, epoch seconds (numbers or numeric text) or ISO 8601 text (naive = UTC)."""
    if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(values.dtype):
        stamps = values if isinstance(values.dtype, pd.DatetimeTZDtype) else values.dt.tz_localize("UTC")
        stamps = stamps.dt.tz_convert("UTC")
    elif pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        stamps = _from_epoch(values.astype(np.float64))
    else:
        text = _text(values)
        epoch = pd.to_numeric(text, errors="coerce")
        stamps = _from_epoch(epoch)
        iso = epoch.isna() & (text != "")
        if iso.any():
            parsed = pd.to_datetime(text[iso], format="ISO8601", utc=True, errors="coerce")
            stamps = stamps.astype("datetime64[us, UTC]")
            stamps[iso] = parsed.astype("datetime64[us, UTC]")
    stamps = stamps.astype(s.TIMESTAMP_DTYPE)
    bad = stamps.isna().to_numpy()

    def why(i: int) -> str:
        value = values.iloc[i]
        if _is_missing(value):
            return "missing value"
        return f"unparseable timestamp: {value!r} (expected epoch seconds or ISO 8601 text)"

    return stamps.reset_index(drop=True), bad, why


def _from_epoch(seconds: pd.Series) -> pd.Series:
    """Epoch seconds → UTC timestamps; values outside pandas' range become NaT."""
    array = seconds.to_numpy(dtype=np.float64, na_value=np.nan)
    ok = np.isfinite(array) & (np.abs(array) < 9.2e9)  # about year 2262: beyond, nanoseconds overflow
    micros = np.where(ok, np.round(np.nan_to_num(array) * 1_000_000), 0).astype(np.int64)
    stamps = pd.Series(micros.astype("datetime64[us]"), index=seconds.index).dt.tz_localize("UTC")
    return stamps.where(ok)
