"""``recsys data generate|load|check|info``: make, import, check and describe the processed data set."""

from __future__ import annotations

import click

from recsys.errors import DataQualityError


def register(cli: click.Group) -> None:
    """Add the ``data`` command group."""
    cli.add_command(data)


@click.group("data")
def data() -> None:
    """Generate, load, check and describe data/processed."""


@data.command("generate")
@click.option("--preset", type=click.Choice(["tiny", "small", "large"]), default="small", show_default=True,
              help="Size: tiny (~2k users, tests), small (~20k users), large (~300k users, like the real shop).")
@click.option("--seed", type=int, default=42, show_default=True, help="Random seed (same seed, same data).")
@click.option("--users", type=click.IntRange(min=1), default=None, help="Number of users (default: preset's).")
@click.option("--products", type=click.IntRange(min=2), default=None, help="Number of products (default: preset's).")
@click.option("--drift-weeks", type=click.IntRange(min=0), default=0, show_default=True,
              help="Length of the recent window the drift knobs change (0 = no drift).")
@click.option("--rating-shift", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Share of 5★ mass moved to lower stars inside the window.")
@click.option("--popularity-shift", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="How much item popularity is re-ranked inside the window (0..1).")
@click.option("--new-items", type=click.IntRange(min=0), default=0, show_default=True,
              help="Products that appear only inside the window.")
@click.option("--end", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Day the data ends (exclusive, UTC); default today.")
@click.pass_obj
def generate_command(paths, preset, seed, users, products, drift_weeks, rating_shift, popularity_shift, new_items,
                     end) -> None:
    """Generate a shop-like data set, check it and write data/processed."""
    from pydantic import ValidationError

    from recsys.data.generate import GenerateConfig, generate
    from recsys.data.ingest import ingest

    try:
        config = GenerateConfig(preset=preset, seed=seed, n_users=users, n_products=products,
                                drift_weeks=drift_weeks, rating_shift=rating_shift,
                                popularity_shift=popularity_shift, new_items=new_items,
                                end=end.date() if end else None)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "options"
        raise click.UsageError(f"{where}: {first['msg'].removeprefix('Value error, ')}") from exc
    interactions, catalogue = generate(config, progress=True)
    result = ingest(paths, interactions, catalogue, {"kind": "generated", **config.model_dump(mode="json")})
    _finish(paths, result)


@data.command("load")
@click.argument("path", type=click.Path(dir_okay=True, path_type=str))
@click.option("--format", "fmt", type=click.Choice(["auto", "csv", "parquet", "movielens"]), default="auto",
              show_default=True, help="File format; auto decides from the file name.")
@click.option("--products", "products_path", type=click.Path(path_type=str), default=None,
              help="Catalogue file (CSV/Parquet: product_id, name, brand, category, price, skin_type, description).")
@click.option("--map", "mappings", multiple=True, metavar="FIELD=COLUMN",
              help="Column of the interactions file holding FIELD (user_id, product_id, rating, timestamp).")
@click.option("--products-map", "product_mappings", multiple=True, metavar="FIELD=COLUMN",
              help="Column of the catalogue file holding FIELD.")
@click.option("--shop-start", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Earliest plausible timestamp (default 2015-01-01; 1995-01-01 for MovieLens).")
@click.pass_obj
def load_command(paths, path, fmt, products_path, mappings, product_mappings, shop_start) -> None:
    """Load interactions from a CSV, Parquet or MovieLens file, check them and write data/processed."""
    from pathlib import Path

    from recsys.data.ingest import ingest, parse_day
    from recsys.data.load import INTERACTION_FIELDS, PRODUCT_FIELDS, detect_format, load_file, load_products

    column_map = _mapping(mappings, INTERACTION_FIELDS, "--map")
    product_map = _mapping(product_mappings, PRODUCT_FIELDS, "--products-map")
    interactions, catalogue = load_file(path, fmt=fmt, column_map=column_map)
    if products_path:
        catalogue = load_products(products_path, column_map=product_map)
    movielens = fmt == "movielens" or (fmt == "auto" and (Path(path).is_dir() or detect_format(Path(path))
                                                          == "movielens"))
    start = parse_day(shop_start.date()) if shop_start else parse_day("1995-01-01" if movielens else "2015-01-01")
    source = {"kind": "file", "path": str(Path(path).resolve()), "format": fmt, "column_map": column_map,
              "products_path": str(Path(products_path).resolve()) if products_path else None}
    _finish(paths, ingest(paths, interactions, catalogue, source, shop_start=start))


@data.command("check")
@click.pass_obj
def check_command(paths) -> None:
    """Re-run the quality checks on data/processed and record them."""
    from recsys.data.dataset import read_manifest
    from recsys.data.ingest import check_processed
    from recsys.data.quality import ensure_quality

    report = check_processed(paths)
    manifest = read_manifest(paths)
    click.echo(f"data_version {manifest.data_version}")
    for line in report.summary_lines():
        click.echo(line)
    ensure_quality(report)


@data.command("info")
@click.pass_obj
def info_command(paths) -> None:
    """Summarise data/processed from its manifest."""
    from recsys.data.dataset import read_manifest

    manifest = read_manifest(paths)
    _print_manifest(manifest)
    click.echo(f"created at    {manifest.created_at[:19]} UTC")
    source = manifest.source
    origin = source.get("path") if source.get("kind") == "file" else \
        f"generated (preset {source.get('preset')}, seed {source.get('seed')})"
    click.echo(f"source        {origin}")
    ratings = ", ".join(f"{star}★ {count}" for star, count in sorted(manifest.rating_distribution.items()))
    click.echo(f"ratings       {ratings}")


def _mapping(pairs: tuple[str, ...], fields: tuple[str, ...], option: str) -> dict[str, str]:
    result = {}
    for pair in pairs:
        field, sep, column = pair.partition("=")
        if not sep or not field.strip() or not column.strip():
            raise click.BadParameter(f"expected FIELD=COLUMN, got {pair!r}", param_hint=option)
        if field.strip() not in fields:
            raise click.BadParameter(f"unknown field {field.strip()!r}; known: {', '.join(fields)}",
                                     param_hint=option)
        result[field.strip()] = column.strip()
    return result


def _finish(paths, result) -> None:
    for line in result.report.summary_lines():
        click.echo(line)
    if not result.written:
        click.echo(f"refused: data_version {result.data_version} not written; {paths.data_dir} is unchanged")
        raise DataQualityError([f"{c.name}: {c.message}" for c in result.report.hard_failures])
    _print_manifest(result.manifest)
    click.echo(f"written to    {paths.data_dir}")


def _print_manifest(manifest) -> None:
    share = manifest.n_trainable_users / manifest.n_users if manifest.n_users else 0.0
    click.echo(f"data_version  {manifest.data_version}")
    click.echo(f"users         {manifest.n_users:,}")
    click.echo(f"products      {manifest.n_products:,}")
    click.echo(f"interactions  {manifest.n_interactions:,}")
    click.echo(f"trainable     {manifest.n_trainable_users:,} users ({share:.1%}); test rows {manifest.n_test:,}")
    click.echo(f"5★ share      {manifest.five_star_share:.1%}")
