"""``recsys data …`` end to end through click: summaries, refusals and one-line errors."""

from __future__ import annotations

import json

import pandas as pd
from click.testing import CliRunner

from recsys.cli import cli
from recsys.data import schema as s
from recsys.data.dataset import load_processed
from recsys.db import connect


def _invoke(paths, *args):
    return CliRunner().invoke(cli, ["--home", str(paths.root), "data", *args])


def _no_traceback(result) -> None:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_generate_writes_the_processed_layout_and_prints_a_summary(paths):
    result = _invoke(paths, "generate", "--preset", "tiny", "--seed", "7", "--end", "2025-06-01")
    assert result.exit_code == 0, result.output
    dataset = load_processed(paths)
    assert f"data_version  {dataset.data_version}" in result.output
    for label in ("users", "products", "interactions", "trainable", "5★ share"):
        assert label in result.output
    assert "0 failed hard" in result.output
    assert dataset.manifest.source["seed"] == 7 and dataset.manifest.source["preset"] == "tiny"
    again = _invoke(paths, "generate", "--preset", "tiny", "--seed", "7", "--end", "2025-06-01")
    assert load_processed(paths).data_version == dataset.data_version, again.output
    info = _invoke(paths, "info")
    assert info.exit_code == 0 and dataset.data_version in info.output and "seed 7" in info.output
    check = _invoke(paths, "check")
    assert check.exit_code == 0 and "0 failed hard" in check.output
    (rows,) = connect(paths.monitor_db, readonly=True).execute("SELECT COUNT(DISTINCT timestamp) "
                                                               "FROM data_quality_checks").fetchone()
    assert rows == 3  # two generates and one check, each recorded


def test_generate_with_drift_knobs(paths):
    result = _invoke(paths, "generate", "--preset", "tiny", "--end", "2025-06-01", "--drift-weeks", "4",
                     "--rating-shift", "0.5", "--new-items", "5", "--users", "3000", "--products", "150")
    assert result.exit_code == 0, result.output
    dataset = load_processed(paths)
    assert len(dataset.products) == 155 and dataset.interactions[s.USER_ID].nunique() == 3000
    assert dataset.manifest.source["rating_shift"] == 0.5


def test_generate_into_the_future_is_refused_with_reasons(paths):
    result = _invoke(paths, "generate", "--preset", "tiny", "--end", "2999-01-01")
    assert result.exit_code != 0
    assert "FAIL future_timestamps" in result.output
    assert result.output.strip().splitlines()[-1].startswith("Error: data failed hard quality checks")
    assert not paths.data_manifest.exists()
    _no_traceback(result)


def test_bad_option_combination_is_a_usage_error(paths):
    result = _invoke(paths, "generate", "--preset", "tiny", "--rating-shift", "0.2")
    assert result.exit_code == 2 and "rating_shift needs drift_weeks > 0" in result.output
    _no_traceback(result)


def test_load_csv_with_mapped_columns_and_a_catalogue(paths, tmp_path, tiny_raw):
    interactions, products = tiny_raw
    data = interactions.rename(columns={s.USER_ID: "uid", s.PRODUCT_ID: "iid"})
    data[s.TIMESTAMP] = data[s.TIMESTAMP].map(lambda t: t.isoformat())
    data.to_csv(tmp_path / "orders.csv", index=False)
    products.rename(columns={s.PRODUCT_ID: "sku"}).to_parquet(tmp_path / "catalogue.parquet")
    result = _invoke(paths, "load", str(tmp_path / "orders.csv"), "--map", "user_id=uid", "--map",
                     "product_id=iid", "--products", str(tmp_path / "catalogue.parquet"),
                     "--products-map", "product_id=sku")
    assert result.exit_code == 0, result.output
    dataset = load_processed(paths)
    assert len(dataset.interactions) == len(interactions)
    assert dataset.products[s.NAME].tolist() == products[s.NAME].tolist()
    assert json.loads(paths.data_manifest.read_text())["source"]["column_map"] == {"user_id": "uid",
                                                                                   "product_id": "iid"}


def test_load_movielens_accepts_nineties_timestamps(paths, tmp_path):
    (tmp_path / "u.data").write_text("1\t10\t5\t881250949\n1\t11\t4\t881250999\n2\t10\t3\t881251000\n")
    result = _invoke(paths, "load", str(tmp_path / "u.data"))
    assert result.exit_code == 0, result.output
    dataset = load_processed(paths)
    assert dataset.products[s.NAME].tolist() == ["Item 10", "Item 11"]
    assert dataset.manifest.n_trainable_users == 1


def test_load_bad_file_is_one_line_naming_file_row_and_problem(paths, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("user_id,product_id,rating,timestamp\n1,10,5,1700000000\n2,11,11,1700000000\n")
    result = _invoke(paths, "load", str(path))
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines == [f"Error: {path}, row 3: field 'rating': rating 11 is outside 1..5"]
    _no_traceback(result)


def test_load_unknown_product_is_refused(paths, tmp_path):
    pd.DataFrame({"product_id": [10], "name": ["Serum"]}).to_csv(tmp_path / "p.csv", index=False)
    (tmp_path / "o.csv").write_text("user_id,product_id,rating,timestamp\n1,10,5,1700000000\n1,12,5,1700000001\n")
    result = _invoke(paths, "load", str(tmp_path / "o.csv"), "--products", str(tmp_path / "p.csv"))
    assert result.exit_code == 1 and "FAIL unknown_products" in result.output
    assert not paths.data_manifest.exists()


def test_bad_map_option(paths, tmp_path):
    result = _invoke(paths, "load", str(tmp_path / "x.csv"), "--map", "colour=red")
    assert result.exit_code == 2 and "unknown field 'colour'" in result.output


def test_info_and_check_without_data_say_what_to_do(paths):
    for command in ("info", "check"):
        result = _invoke(paths, command)
        assert result.exit_code == 1 and "recsys data generate" in result.output
        assert len(result.output.strip().splitlines()) == 1
        _no_traceback(result)
