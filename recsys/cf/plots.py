"""Training curves as pictures: loss and validation nDCG@10 against iteration."""

from __future__ import annotations

from pathlib import Path

from recsys.cf.training_store import get_run, iterations, open_training_db
from recsys.errors import RecsysError
from recsys.paths import ProjectPaths


class RunNotFoundError(RecsysError):
    """No training run with that id."""


def plot_training_curves(run_id: str, *, paths: ProjectPaths | None = None) -> Path:
    """Write ``reports/training_curves_<run_id>.png``; the run id only ever reaches SQL as a bound parameter."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = paths or ProjectPaths.from_env()
    conn = open_training_db(paths.training_db)
    try:
        run = get_run(conn, run_id)
        rows = iterations(conn, run_id)
    finally:
        conn.close()
    if run is None:
        raise RunNotFoundError(f"no training run '{run_id}' in {paths.training_db}")
    safe_name = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in run_id)
    out = paths.reports_dir / f"training_curves_{safe_name}.png"
    out.parent.mkdir(parents=True, exist_ok=True)

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4))
    xs = [r["iteration"] for r in rows]
    ax1.plot(xs, [r["loss"] for r in rows], marker=".")
    ax1.set_xlabel("Epoch" if run["model_type"] == "bpr" else "Iteration")
    ax1.set_ylabel("Loss")
    ax1.set_title(f"Training loss — {run_id}")
    val = [(r["iteration"], r["validation_ndcg"]) for r in rows if r["validation_ndcg"] is not None]
    if val:
        ax2.plot([v[0] for v in val], [v[1] for v in val], marker="o", color="tab:green")
    ax2.set_xlabel(ax1.get_xlabel())
    ax2.set_ylabel("NDCG@10")
    ax2.set_title("Validation NDCG@10")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
