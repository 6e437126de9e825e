"""Column names and dtypes of the processed data: the one place that spells them.

``interactions.parquet``: one row per rating/purchase.
``products.parquet``: one row per catalogue product, with rating statistics computed from the interactions.
"""

from __future__ import annotations

import pandas as pd

# --- interactions ---------------------------------------------------------------------------
USER_ID = "user_id"
PRODUCT_ID = "product_id"
RATING = "rating"
TIMESTAMP = "timestamp"
IS_POSITIVE = "is_positive"
SPLIT = "split"

# pandas 3 parses datetimes at microsecond resolution; the processed files keep that, always in UTC.
TIMESTAMP_DTYPE = "datetime64[us, UTC]"

INTERACTION_DTYPES: dict[str, str] = {
    USER_ID: "int64",
    PRODUCT_ID: "int64",
    RATING: "int64",
    TIMESTAMP: TIMESTAMP_DTYPE,
    IS_POSITIVE: "bool",
    SPLIT: "str",
}
INTERACTION_COLUMNS: tuple[str, ...] = tuple(INTERACTION_DTYPES)
# What a loaded or generated frame must have before the derived columns are added.
RAW_INTERACTION_COLUMNS: tuple[str, ...] = (USER_ID, PRODUCT_ID, RATING, TIMESTAMP)

RATING_MIN, RATING_MAX = 1, 5
POSITIVE_THRESHOLD = 4  # a positive is rating >= 4
SPLIT_TRAIN, SPLIT_TEST = "train", "test"

# --- products -------------------------------------------------------------------------------
NAME = "name"
BRAND = "brand"
CATEGORY = "category"
PRICE = "price"
SKIN_TYPE = "skin_type"
DESCRIPTION = "description"
AVG_RATING = "avg_rating"
NUM_RATINGS = "num_ratings"

PRODUCT_DTYPES: dict[str, str] = {
    PRODUCT_ID: "int64",
    NAME: "str",
    BRAND: "str",
    CATEGORY: "str",
    PRICE: "float64",
    SKIN_TYPE: "str",
    DESCRIPTION: "str",
    AVG_RATING: "float64",
    NUM_RATINGS: "int64",
}
PRODUCT_COLUMNS: tuple[str, ...] = tuple(PRODUCT_DTYPES)
# Catalogue metadata (what a products file may bring); the rating statistics are always recomputed.
METADATA_COLUMNS: tuple[str, ...] = (NAME, BRAND, CATEGORY, PRICE, SKIN_TYPE, DESCRIPTION)
METADATA_DEFAULTS: dict[str, object] = {
    BRAND: "unknown",
    CATEGORY: "unknown",
    PRICE: 0.0,
    SKIN_TYPE: "unknown",
    DESCRIPTION: "",
}


def dtype_matches(series: pd.Series, expected: str) -> bool:
    """Whether ``series`` has the ``expected`` dtype name from the tables above ('str' = any string dtype)."""
    if expected == "str":
        if isinstance(series.dtype, pd.StringDtype):
            return True
        return series.dtype == object and bool(series.map(lambda value: isinstance(value, str)).all())
    if expected == TIMESTAMP_DTYPE:
        dtype = series.dtype
        return isinstance(dtype, pd.DatetimeTZDtype) and str(dtype.tz) == "UTC"
    return str(series.dtype) == expected
