"""Checkpoint files: written atomically with a ``.sha256`` sidecar, verified on loading.

A checkpoint is a ``torch.save`` dict with at least ``model`` (state dict), ``config`` (the resolved
training config as a plain dict), ``versions`` and ``state_sha256`` (hash of the weights' bytes). The
sidecar ``<file>.sha256`` (``sha256sum`` format) records the hash of the whole file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import logging
import platform
from pathlib import Path
from typing import Any, Mapping

import torch

from spinedetect.atomic import atomic_write_bytes
from spinedetect.errors import ConfigError, InputError

__all__ = ["FORMAT", "file_sha256", "state_sha256", "package_versions", "save_checkpoint", "load_checkpoint",
           "export_weights"]

log = logging.getLogger(__name__)
FORMAT = "spinedetect-checkpoint/1"


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def state_sha256(state: dict[str, torch.Tensor]) -> str:
    """Hex sha256 over the names, dtypes, shapes and bytes of a state dict's tensors (sorted by name)."""
    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def package_versions() -> dict[str, str]:
    """Versions of the packages a model depends on (recorded with checkpoints and outputs)."""
    import monai
    import numpy

    from spinedetect import __version__

    return {"spinedetect": __version__, "torch": str(torch.__version__), "monai": str(monai.__version__),
            "numpy": str(numpy.__version__), "python": platform.python_version()}


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> str:
    """Write ``payload`` (+ format, versions, weights hash) atomically, then its sidecar; returns the sha256."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "versions": package_versions(), **payload,
               "state_sha256": state_sha256(payload["model"])}
    buf = io.BytesIO()
    torch.save(payload, buf)
    data = buf.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    atomic_write_bytes(path, data)
    atomic_write_bytes(path.with_name(path.name + ".sha256"), f"{digest}  {path.name}\n".encode())
    return digest


def load_checkpoint(path: str | Path, *, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint, checking the sidecar hash (where present) and the recorded weights hash.

    Raises InputError, saying what was expected and found, for a missing, corrupt or altered file.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Model checkpoint {path} does not exist", expected="a .pt file written by "
                         "'spinedetect train'", found="no file", hint="Check the --model/--resume path")
    sidecar = path.with_name(path.name + ".sha256")
    actual = file_sha256(path)
    if sidecar.is_file():
        recorded = sidecar.read_text(encoding="utf-8").split()[0].lower()
        if actual != recorded:
            raise InputError(f"Model checkpoint {path} is corrupt or was altered", expected=f"sha256 {recorded}",
                             found=f"sha256 {actual}", hint="Download or copy the model file again")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises many types for damaged zip/pickle data
        raise InputError(f"Model checkpoint {path} cannot be read ({type(exc).__name__})",
                         expected="a torch checkpoint written by 'spinedetect train'",
                         found=f"unreadable or truncated data, sha256 {actual}",
                         hint="The file is damaged: copy it again or retrain") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT or "model" not in payload:
        raise InputError(f"{path} is not a spinedetect checkpoint", expected=f"format {FORMAT}",
                         found=(repr(payload.get("format")) if isinstance(payload, dict) else type(payload).__name__)
                         + f", file sha256 {actual}")
    recorded_state = payload.get("state_sha256")
    if recorded_state and state_sha256(payload["model"]) != recorded_state:
        raise InputError(f"Weights in {path} do not match their recorded hash",
                         expected=f"weights sha256 {recorded_state}",
                         found=f"weights sha256 {state_sha256(payload['model'])} (file sha256 {actual})",
                         hint="The file is damaged: copy it again or retrain")
    return payload


def export_weights(src: str | Path, dst: str | Path, *, inference: Mapping[str, Any] | None = None) -> str:
    """Copy a training checkpoint without optimiser/scheduler state (the file a predictor needs); returns sha256.

    ``inference`` updates the inference settings shipped with the weights (e.g. ``{"tta": True}``); they
    never influence training, so a recipe may change them after a run.
    """
    payload = load_checkpoint(src)
    keep = {k: v for k, v in payload.items()
            if k not in ("optimizer", "scheduler", "scaler", "format", "versions", "state_sha256")}
    if inference:
        from spinedetect.training.config import InferenceConfig  # lazily: training.config imports the model

        current = dict(keep["config"].get("inference", {}))
        known = sorted(f.name for f in dataclasses.fields(InferenceConfig))
        unknown = sorted(set(inference) - set(known))
        if unknown:
            raise ConfigError(f"Unknown inference setting {unknown[0]!r}", expected=f"one of {known}",
                              found=repr(unknown[0]))
        keep["config"] = {**keep["config"], "inference": {**current, **inference}}
    keep["exported_from"] = {"path": Path(src).name, "sha256": file_sha256(src), "versions": payload.get("versions")}
    return save_checkpoint(dst, keep)
