"""The text an embedder sees for each product: name, brand, category, skin type and description."""

from __future__ import annotations

import unicodedata

import numpy as np
import pandas as pd

from recsys.errors import DataFileError

TEXT_COLUMNS = ("name", "brand", "category", "skin_type", "description")


def product_texts(products: pd.DataFrame, *, source: str = "products") -> tuple[np.ndarray, list[str]]:
    """``(product_ids int64, texts)`` of a catalogue; missing text fields count as empty.

    Text is NFC-normalised: Vietnamese can be typed with combining or precomposed diacritics, and the
    same word must give the same character n-grams either way.
    """
    if "product_id" not in products.columns:
        raise DataFileError(source, "missing column", field="product_id")
    present = [column for column in TEXT_COLUMNS if column in products.columns]
    if not present:
        raise DataFileError(source, f"no text column; expected some of {', '.join(TEXT_COLUMNS)}")
    ids = pd.to_numeric(products["product_id"], errors="coerce")
    bad = ids.isna().to_numpy().nonzero()[0]
    if len(bad):
        raise DataFileError(source, "product_id is missing or not a number", row=int(bad[0]) + 1, field="product_id")
    product_ids = ids.to_numpy().astype(np.int64)
    if len(np.unique(product_ids)) != len(product_ids):
        duplicated = products["product_id"][products["product_id"].duplicated()].iloc[0]
        raise DataFileError(source, f"duplicate product_id {duplicated}", field="product_id")
    columns = [products[column].fillna("").astype(str).str.strip() for column in present]
    joined = columns[0].str.cat(columns[1:], sep=" . ") if len(columns) > 1 else columns[0]
    texts = [unicodedata.normalize("NFC", text) for text in joined.tolist()]
    return product_ids, texts
