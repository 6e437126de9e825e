"""config/retention.yaml: the shipped file, the project's copy, and errors that name file, entry and field."""

from __future__ import annotations

import pytest

from recsys.config_files import SHIPPED_CONFIG_DIR
from recsys.errors import ConfigError
from recsys.logrotate import RotationPolicy
from recsys.retention import TABLES
from recsys.retention_config import RetentionConfig, StoresRetention, load_retention_config, project_config


def test_the_shipped_file_states_the_built_in_defaults():
    shipped = load_retention_config(SHIPPED_CONFIG_DIR / "retention.yaml")
    defaults = RetentionConfig()
    assert (shipped.stores, shipped.artifacts, shipped.prune, shipped.rotation.default) == (
        defaults.stores, defaults.artifacts, defaults.prune, defaults.rotation.default)
    assert shipped.stores.service_metrics.requests == 30 and shipped.stores.service_metrics.service_health == 365
    assert shipped.stores.training_metrics.training_runs is None and shipped.artifacts.keep_archived == 20
    assert shipped.rotation.policy_for("cf/als.log") == RotationPolicy(10 * 1024 * 1024, 5, True, None)
    assert shipped.rotation.policy_for("service/recommender.log").backup_count == 10


def test_every_configurable_table_has_a_pruning_rule_and_the_reverse():
    stores = StoresRetention()
    assert set(TABLES) == set(StoresRetention.model_fields)
    for store, tables in TABLES.items():
        assert set(tables) == set(getattr(stores, store).model_dump()), store


def test_the_project_copy_wins(paths):
    assert project_config(paths).stores.service_metrics.requests == 30
    paths.config_dir.mkdir(parents=True)
    (paths.config_dir / "retention.yaml").write_text("stores:\n  service_metrics:\n    requests: 7\n")
    config = project_config(paths)
    assert config.stores.service_metrics.requests == 7
    assert config.stores.service_metrics.feedback == 30  # unnamed tables keep their defaults


@pytest.mark.parametrize(("text", "entry", "field", "reason"), [
    ("stores:\n  service_metrics:\n    requestz: 7\n", "stores.service_metrics", "requestz", "Extra inputs"),
    ("stores:\n  service_metrics:\n    requests: -1\n", "stores.service_metrics", "requests", "greater than 0"),
    ("stores:\n  service_metrics:\n    requests: soon\n", "stores.service_metrics", "requests", "valid number"),
    ("stores:\n  billing:\n    invoices: 7\n", "stores", "billing", "Extra inputs"),
    ("rotation:\n  default:\n    max_bytes: lots\n", "rotation.default", "max_bytes", "could not parse"),
    ("rotation:\n  logs:\n    service/recommender.log: {backup_count: -2}\n",
     "rotation.logs.service/recommender.log", "backup_count", "greater than or equal to 0"),
    ("rotation:\n  logs:\n    /var/log/x.log: {backup_count: 2}\n", "rotation", "logs", "path under logs/"),
    ("artifacts:\n  keep_archived: many\n", "artifacts", "keep_archived", "valid integer"),
    ("prune:\n  batch_size: 0\n", "prune", "batch_size", "greater than or equal to 1"),
])
def test_errors_name_the_file_the_entry_and_the_field(tmp_path, text, entry, field, reason):
    path = tmp_path / "retention.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_retention_config(path)
    error = caught.value
    assert (error.entry, error.field) == (entry, field)
    assert reason in error.reason
    assert str(path) in str(error) and f"field '{field}'" in str(error)


@pytest.mark.parametrize(("text", "reason"), [
    ("stores: [1, 2\n", "not valid YAML at line"),
    ("- just\n- a list\n", "must be a mapping"),
])
def test_unreadable_files_are_config_errors(tmp_path, text, reason):
    path = tmp_path / "retention.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=reason):
        load_retention_config(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_retention_config(tmp_path / "missing.yaml")


def test_an_edited_file_is_read_again(tmp_path):
    path = tmp_path / "retention.yaml"
    path.write_text("artifacts: {keep_archived: 3}\n")
    assert load_retention_config(path).artifacts.keep_archived == 3
    path.write_text("artifacts: {keep_archived: 12}\n")
    assert load_retention_config(path).artifacts.keep_archived == 12
