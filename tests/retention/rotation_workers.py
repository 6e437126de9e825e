"""Worker functions for the multi-process rotation tests (importable by spawned processes)."""

from __future__ import annotations

import logging
import random
import re
from pathlib import Path

from recsys.logrotate import RotationPolicy, append_line, make_file_handler

LINE = re.compile(r"^2\d{3}-\d\d-\d\d \d\d:\d\d:\d\d \| INFO \| w(\d+) (\d{5}) (x*)$")
"""A stress line: the spec's format, worker id, sequence number and padding of a length set by both."""


def padding(worker: int, index: int) -> str:
    """Varying line lengths (the line carries enough to check its own length)."""
    return "x" * ((worker * 7919 + index * 104729) % 97)


def write_lines(path: str, worker: int, count: int, policy: RotationPolicy, start, use_append_line: bool) -> None:
    """Write ``count`` lines as ``worker``: through a logging handler, or one ``append_line`` call per line."""
    from recsys.logfmt import UTCFormatter

    formatter = UTCFormatter()
    logger = None
    if not use_append_line:
        logger = logging.getLogger(f"stress.{worker}")
        logger.propagate = False
        logger.setLevel(logging.INFO)
        handler = make_file_handler(Path(path), policy)
        handler.setFormatter(formatter)
        logger.addHandler(handler)
    rng = random.Random(worker)
    start.wait()
    for index in range(count):
        message = f"w{worker} {index:05d} {padding(worker, index)}"
        if logger is not None:
            logger.info(message)
        else:
            record = logging.LogRecord("stress", logging.INFO, __file__, 0, message, None, None)
            append_line(path, formatter.format(record), policy)
        if rng.random() < 0.001:
            import time

            time.sleep(0.002)  # let the others run ahead now and then
    if logger is not None:
        for handler in list(logger.handlers):
            handler.close()


def write_with_inherited(log_file, worker: int, count: int) -> None:
    """Forked child: write through a ``LogFile`` created by the parent before the fork."""
    for index in range(count):
        log_file.write(f"2025-01-15 10:30:00 | INFO | w{worker} {index:05d} {padding(worker, index)}\n".encode())


def register_and_select(root: str, worker: int, count: int, start) -> None:
    """Spawned worker: register ``count`` models and select the best after each."""
    import json

    from recsys.cf.registry import ModelRegistry
    from recsys.paths import ProjectPaths

    paths = ProjectPaths.from_env(root)
    registry = ModelRegistry(paths=paths)
    start.wait()
    for index in range(count):
        model_type = ("als", "bpr")[index % 2]
        directory = paths.cf_artifacts / model_type / f"v{worker * 1000 + index}_20250115_103000"
        directory.mkdir(parents=True)
        (directory / "metadata.json").write_text(json.dumps({"model_type": model_type}))
        ndcg = round(random.Random(worker * 1000 + index).random(), 6)
        registry.register_model(directory, model_type, {"worker": worker},
                                {"recall@10": ndcg, "recall@20": ndcg, "ndcg@10": ndcg, "ndcg@20": ndcg,
                                 "coverage": 0.3})
        registry.select_best_model()
