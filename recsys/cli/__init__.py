"""The ``recsys`` command: one entry point for everything a person runs."""

from __future__ import annotations

import click

from recsys.errors import RecsysError


class _Group(click.Group):
    """Turns recsys's own errors into a one-line message and exit code 2, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except RecsysError as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=_Group)
@click.option("--home", envvar="RECSYS_HOME", type=click.Path(file_okay=False), default=None,
              help="Project root holding data/, artifacts/, logs/, config/ (default: $RECSYS_HOME or .).")
@click.pass_context
def cli(ctx: click.Context, home: str | None) -> None:
    """recsys: train, register, serve and monitor a collaborative-filtering recommender."""
    from recsys.paths import ProjectPaths

    ctx.obj = ProjectPaths.from_env(home)


# One module per command group; each has ``register(cli)``.
COMMAND_MODULES: list[str] = ["data", "train", "registry", "serve"]


def _register() -> None:
    from importlib import import_module

    for name in COMMAND_MODULES:
        import_module(f"recsys.cli.{name}").register(cli)


_register()


def main() -> None:
    """Console entry point."""
    cli(prog_name="recsys")
