"""Which model is best, and which one a rollback returns to: pure functions over the registry document."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from recsys.cf.registry._filestore import is_finite_number

Entry = Mapping[str, Any]


def improvement_pct(value: float | None, reference: float | None) -> float | None:
    """Relative change of ``value`` over ``reference`` in percent; ``None`` when there is nothing to compare."""
    if value is None or reference is None or reference == 0:
        return None
    return (value - reference) / abs(reference) * 100.0


def metric_value(entry: Entry | None, metric: str) -> float | None:
    """``entry``'s finite value for ``metric``, else ``None``."""
    if entry is None:
        return None
    value = (entry.get("metrics") or {}).get(metric)
    return float(value) if is_finite_number(value) else None


def decide_best(models: Mapping[str, Entry], current_best_id: str | None, metric: str,
                min_improvement: float = 0.0, model_type: str | None = None) -> dict[str, Any] | None:
    """The selection among active models (of ``model_type``, if given), or ``None`` if there is no candidate.

    The top candidate (highest ``metric``; ties go to the current best, then to the earliest registered)
    replaces the current best when there is no current best, the current best is no longer active or
    has no value for ``metric``, or the candidate beats it by more than ``min_improvement`` (a fraction:
    0.01 = 1 % relative). Returns ``model_id`` / ``value`` of the best *after* the decision,
    ``previous_best_id`` (the best before it), ``improvement_pct`` (candidate over the previous best),
    ``changed`` and ``candidate_id``.
    """
    order = {model_id: index for index, model_id in enumerate(models)}
    candidates = [
        entry for entry in models.values()
        if entry.get("status") == "active"
        and (model_type is None or entry.get("model_type") == model_type)
        and metric_value(entry, metric) is not None
    ]
    if not candidates:
        return None
    top = max(candidates, key=lambda e: (metric_value(e, metric), e["model_id"] == current_best_id,
                                          -order[e["model_id"]]))
    top_value = metric_value(top, metric)
    current = models.get(current_best_id) if current_best_id else None
    current_value = metric_value(current, metric)
    if top["model_id"] == current_best_id:
        changed = False
    elif current is None or current.get("status") != "active" or current_value is None:
        changed = True
    else:
        changed = top_value > current_value + min_improvement * abs(current_value)
    kept_value = top_value if changed else current_value
    return {
        "model_id": top["model_id"] if changed else current_best_id,
        "metric": metric,
        "value": kept_value,
        "previous_best_id": current_best_id,
        "improvement_pct": 0.0 if top["model_id"] == current_best_id else improvement_pct(top_value, current_value),
        "changed": changed,
        "candidate_id": top["model_id"],
    }


def selection_stack(best_history: list[Mapping[str, Any]]) -> list[str]:
    """Replay ``best_history`` as a stack: a selection pushes, a rollback pops back down to its target.

    So after A → B → rollback(A), a second rollback goes to what preceded A, not back to B.
    """
    stack: list[str] = []
    for record in best_history:
        model_id = record["model_id"]
        if record.get("reason") == "rollback":
            while stack and stack[-1] != model_id:
                stack.pop()
            if not stack:
                stack.append(model_id)
        else:
            stack.append(model_id)
    return stack


def previous_best(document: Mapping[str, Any], usable: Callable[[Entry], bool]) -> str | None:
    """The model a rollback would return to: the latest earlier best that is still ``usable``."""
    current = document.get("current_best") or {}
    current_id = current.get("model_id")
    models = document["models"]
    for model_id in reversed(selection_stack(document.get("best_history") or [])):
        entry = models.get(model_id)
        if model_id != current_id and entry is not None and usable(entry):
            return model_id
    return None
