"""Loading a user's own files: round trips, column maps, MovieLens, and one clear error per bad file."""

from __future__ import annotations

import pandas as pd
import pytest

from recsys.data import schema as s
from recsys.data.dataset import prepare
from recsys.data.load import load_file, load_products
from recsys.errors import DataFileError

HEADER = "user_id,product_id,rating,timestamp\n"


def _raw(interactions: pd.DataFrame) -> pd.DataFrame:
    return interactions[list(s.RAW_INTERACTION_COLUMNS)].reset_index(drop=True)


def test_csv_round_trip_with_epoch_seconds(tmp_path, tiny_raw):
    interactions, _ = tiny_raw
    written = interactions.assign(timestamp=interactions[s.TIMESTAMP].map(lambda t: int(t.timestamp())))
    path = tmp_path / "shop.csv"
    written.to_csv(path, index=False)
    loaded, products = load_file(path)
    assert products is None
    pd.testing.assert_frame_equal(loaded, _raw(interactions))


def test_csv_with_iso_text_and_mapped_columns(tmp_path, tiny_raw):
    interactions, _ = tiny_raw
    renamed = interactions.rename(columns={s.USER_ID: "customer", s.PRODUCT_ID: "sku", s.RATING: "stars",
                                           s.TIMESTAMP: "when"})
    renamed["when"] = interactions[s.TIMESTAMP].dt.tz_convert("Asia/Ho_Chi_Minh").map(lambda t: t.isoformat())
    renamed["extra"] = "ignored"
    path = tmp_path / "export.csv"
    renamed.to_csv(path, index=False)
    loaded, _ = load_file(path, column_map={"user_id": "customer", "product_id": "sku", "rating": "stars",
                                            "timestamp": "when"})
    pd.testing.assert_frame_equal(loaded, _raw(interactions))


def test_parquet_round_trip_naive_datetimes_are_utc(tmp_path, tiny_raw):
    interactions, _ = tiny_raw
    naive = interactions.assign(timestamp=interactions[s.TIMESTAMP].dt.tz_localize(None))
    path = tmp_path / "shop.parquet"
    naive.to_parquet(path)
    loaded, _ = load_file(path)
    pd.testing.assert_frame_equal(loaded, _raw(interactions))


def test_movielens_u_data_with_u_item(tmp_path):
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    (folder / "u.data").write_text("196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t1\t878887116\n")
    flags = ["0"] * 19
    drama = flags.copy()
    drama[8] = "1"
    items = [f"242|Kolya (1996)|24-Jan-1997||http://x|{'|'.join(drama)}",
             f"302|L.A. Confidential (1997)|01-Jan-1997||http://y|{'|'.join(flags)}",
             f"377|Heavyweights (1994)|01-Jan-1994||http://z|{'|'.join(flags)}"]
    (folder / "u.item").write_bytes("\n".join(items).encode("latin-1"))
    loaded, products = load_file(folder, fmt="auto")
    assert loaded[s.USER_ID].tolist() == [196, 186, 22]
    assert loaded[s.PRODUCT_ID].tolist() == [242, 302, 377]
    assert loaded[s.RATING].tolist() == [3, 3, 1]
    assert loaded[s.TIMESTAMP].iloc[0] == pd.Timestamp(881250949, unit="s", tz="UTC")
    assert products[s.NAME].tolist() == ["Kolya (1996)", "L.A. Confidential (1997)", "Heavyweights (1994)"]
    assert products[s.CATEGORY].tolist() == ["Drama", "unknown", "unknown"]


def test_products_file_with_defaults_for_missing_metadata(tmp_path):
    path = tmp_path / "catalogue.csv"
    path.write_text("id,title,price,brand\n1,Serum A,350000,Cocoon\n2,Toner B,,\n3,,99000,Simple\n")
    products = load_products(path, column_map={"product_id": "id", "name": "title"})
    assert products[s.PRODUCT_ID].tolist() == [1, 2, 3]
    assert products[s.PRICE].iloc[0] == 350000.0 and pd.isna(products[s.PRICE].iloc[1])
    interactions = pd.DataFrame({s.USER_ID: [1], s.PRODUCT_ID: [1], s.RATING: [5],
                                 s.TIMESTAMP: pd.to_datetime(["2024-01-01"], utc=True)})
    _, prepared = prepare(interactions, products)
    assert prepared[s.NAME].tolist() == ["Serum A", "Toner B", "Item 3"]
    assert prepared[s.BRAND].tolist() == ["Cocoon", "unknown", "Simple"]
    assert prepared[s.PRICE].tolist() == [350000.0, 0.0, 99000.0]
    assert prepared[s.DESCRIPTION].tolist() == ["", "", ""]
    assert not prepared.isna().any().any()


BAD_CSV = [
    # (content, row, field, words in the reason)
    (HEADER + "1,10,5,1700000000\n2,11,7,1700000000\n", 3, "rating", "outside 1..5"),
    (HEADER + "1,10,five,1700000000\n", 2, "rating", "not a number"),
    (HEADER + "1,10,4.5,1700000000\n", 2, "rating", "whole-number"),
    (HEADER + "1,10,5,1700000000\nabc,11,4,1700000000\n", 3, "user_id", "not an integer"),
    (HEADER + "1,10,5,1700000000\n2,1.5,4,1700000000\n", 3, "product_id", "not an integer"),
    (HEADER + "1,10,5,1700000000\n2,11,4,next tuesday\n", 3, "timestamp", "unparseable timestamp"),
    (HEADER + "1,10,5,1700000000\n2,,4,1700000000\n", 3, "product_id", "missing value"),
    (HEADER + "1,10,5,1700000000\n2,11,4,1700000000,extra\n", 3, None, "wrong number of fields"),
    # the first bad row wins, whichever field it is in
    (HEADER + "1,10,5,1700000000\n2,11,4,bad\n3,12,9,1700000000\n", 3, "timestamp", "unparseable"),
    (HEADER + "1,10,5,1700000000\n\n2,11,9,1700000000\n", 4, "rating", "outside"),  # blank lines keep numbering
]


@pytest.mark.parametrize(("content", "row", "field", "words"), BAD_CSV)
def test_bad_csv_rows_are_named(tmp_path, content, row, field, words):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DataFileError) as caught:
        load_file(path)
    error = caught.value
    assert (error.path, error.row, error.field) == (str(path), row, field)
    assert words in error.reason
    assert str(path) in str(error) and f"row {row}" in str(error)


@pytest.mark.parametrize(("name", "content", "words"), [
    ("empty.csv", "", "file is empty"),
    ("header.csv", HEADER, "no data rows"),
    ("columns.csv", "user,product_id,rating,timestamp\n1,2,5,1700000000\n", "missing column 'user_id'"),
    ("mystery.bin", "1,2,3", "cannot tell the format"),
    ("broken.parquet", "not parquet at all", "not a readable parquet file"),
])
def test_bad_files_are_named(tmp_path, name, content, words):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(DataFileError, match=words) as caught:
        load_file(path)
    assert caught.value.path == str(path)


def test_mapped_column_that_is_absent_says_which_field(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text(HEADER + "1,2,5,1700000000\n")
    with pytest.raises(DataFileError, match=r"missing column 'uid' \(for user_id\)") as caught:
        load_file(path, column_map={"user_id": "uid"})
    assert caught.value.field == "user_id"


def test_bad_parquet_value_names_the_data_row(tmp_path):
    frame = pd.DataFrame({s.USER_ID: [1, 2, 3], s.PRODUCT_ID: [5, 6, 7], s.RATING: [5, 4, 0],
                          s.TIMESTAMP: pd.to_datetime(["2024-01-01"] * 3, utc=True)})
    path = tmp_path / "x.parquet"
    frame.to_parquet(path)
    with pytest.raises(DataFileError, match="rating 0 is outside") as caught:
        load_file(path)
    assert (caught.value.row, caught.value.field) == (3, "rating")


def test_movielens_line_with_wrong_field_count(tmp_path):
    path = tmp_path / "u.data"
    path.write_text("1\t2\t5\t881250949\n1\t3\t4\t881250950\n2\t3\t4\n")
    with pytest.raises(DataFileError, match="expected 4 tab-separated fields.*found 3") as caught:
        load_file(path)
    assert caught.value.row == 3 and caught.value.path == str(path)


def test_movielens_bad_rating_line(tmp_path):
    path = tmp_path / "u.data"
    path.write_text("1\t2\t5\t881250949\n1\t3\t6\t881250950\n")
    with pytest.raises(DataFileError, match="rating 6") as caught:
        load_file(path, fmt="movielens")
    assert (caught.value.row, caught.value.field) == (2, "rating")


def test_missing_file(tmp_path):
    with pytest.raises(DataFileError, match="file not found"):
        load_file(tmp_path / "nope.csv")


def test_duplicate_product_in_catalogue_file(tmp_path):
    path = tmp_path / "products.csv"
    path.write_text("product_id,name\n1,A\n2,B\n1,C\n")
    with pytest.raises(DataFileError, match=r"duplicate product_id 1 \(first at row 2\)") as caught:
        load_products(path)
    assert caught.value.row == 4


def test_directory_without_movielens_files(tmp_path):
    with pytest.raises(DataFileError, match="directory without a MovieLens u.data"):
        load_file(tmp_path)
