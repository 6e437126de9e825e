"""``recsys dashboard``: the command it runs (the browser test runs it for real)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from recsys.cli import cli
from recsys.cli.dashboard import streamlit_command


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_streamlit_runs_the_app_headless_on_loopback_without_usage_stats(paths):
    argv, env = streamlit_command(paths, "127.0.0.1", 8765)
    assert argv[1:4] == ["-m", "streamlit", "run"] and Path(argv[4]).name == "app.py" and Path(argv[4]).is_file()
    assert option(argv, "--server.address") == "127.0.0.1"
    assert option(argv, "--server.port") == "8765"
    assert option(argv, "--server.headless") == "true"
    assert option(argv, "--browser.gatherUsageStats") == "false"
    assert env["RECSYS_HOME"] == str(paths.root)
    assert Path(env["PYTHONPATH"].split(":")[0], "recsys", "dashboard", "app.py").is_file()


def test_command_is_registered_with_loopback_default():
    assert {"dashboard", "export"} <= set(cli.commands)
    result = CliRunner().invoke(cli, ["dashboard", "--help"])
    assert result.exit_code == 0 and "127.0.0.1" in result.output
    assert CliRunner().invoke(cli, ["dashboard", "--port", "0"]).exit_code != 0  # refused before starting
