"""Whether a checkpoint can be resumed into a trainer, decided before anything changes.

A checkpoint of another example or model must be refused before the run folder is claimed or a
tensor loaded (``load_state_dict`` loads the matching layers of a mismatched model before it
raises), so the check reads the checkpoint only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mini.training.trainer import Trainer


def fit_problem(trainer: Trainer, ckpt: dict[str, Any]) -> str | None:
    """Why ``ckpt`` cannot be loaded into ``trainer`` — another model class, other parameter
    names or shapes, another optimizer layout — or ``None``; read-only, so a resume that cannot
    work is refused before the folder is claimed or a tensor loaded."""
    kind = ckpt.get("model_class")
    if kind is not None and kind != type(trainer.model).__qualname__:
        return f"it holds a {kind}, this run trains a {type(trainer.model).__qualname__}"
    saved, own = ckpt.get("model"), trainer.model.state_dict()
    if not isinstance(saved, dict):
        return "it holds no model weights"
    missing, unexpected = sorted(set(own) - set(saved)), sorted(set(saved) - set(own))
    if missing or unexpected:
        parts = [f"{what}: {', '.join(names[:3])}" for what, names in
                 (("missing", missing), ("unexpected", unexpected)) if names]  # fmt: skip
        return "other parameters — " + "; ".join(parts)
    for name, value in own.items():
        other = saved[name]
        if hasattr(value, "shape") and getattr(other, "shape", None) != value.shape:
            return f"{name} has shape {tuple(other.shape)}, this model's {tuple(value.shape)}"
    groups = ckpt.get("optimizer", {}).get("param_groups")
    own_groups = trainer.optimizer.state_dict()["param_groups"]
    if not isinstance(groups, list) or [len(g["params"]) for g in groups] != [
        len(g["params"]) for g in own_groups
    ]:
        return "another optimizer layout (parameter groups or their sizes differ)"
    return None
