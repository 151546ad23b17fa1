"""The training loop: single process or DistributedDataParallel, checkpoints, resume, validation.

Run under ``torchrun --nproc-per-node K -m spinedetect train ...``: each rank draws its own patches
(disjoint sample indices), gradients are averaged by DDP (NCCL on GPUs, gloo on CPUs) and rank 0 writes
checkpoints and validation metrics. On CPU a run resumed from a checkpoint continues bit for bit.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from spinedetect.config import config_from_mapping, config_to_dict
from spinedetect.errors import ConfigError
from spinedetect.model.checkpoint import file_sha256, load_checkpoint, save_checkpoint
from spinedetect.model.network import build_network
from spinedetect.model.predictor import sliding_window_probs
from spinedetect.model.runtime import autocast, init_distributed, resolve_precision
from spinedetect.training.config import TrainConfig
from spinedetect.training.losses import PartialLabelDiceCELoss
from spinedetect.training.metrics import group_dice
from spinedetect.training.patches import PatchDataset, PreparedCase, collate_patches, load_sources

__all__ = ["StepInfo", "TrainResult", "train", "validate", "step_seed"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StepInfo:
    """What the progress callback receives after each optimisation step."""

    step: int
    total: int
    loss: float
    patches_per_s: float


@dataclass
class TrainResult:
    """End state of a run: the (unwrapped) model, last step, last checkpoint and metrics file."""

    model: nn.Module
    step: int
    checkpoint: Path | None
    metrics_csv: Path | None


def step_seed(seed: int, step: int, rank: int) -> int:
    """Torch seed for one step on one rank (dropout etc.), independent of how the run was interrupted."""
    return int(np.random.SeedSequence([seed, step, rank, 7]).generate_state(1)[0])


def _poly(total: int, power: float) -> Callable[[int], float]:
    return lambda step: max(0.0, 1.0 - step / max(total, 1)) ** power


def train(config: TrainConfig, out_dir: str | Path, *, device: str = "auto", resume: str | Path | None = None,
          init_weights: str | Path | None = None,
          on_step: Callable[[StepInfo], None] | None = None) -> TrainResult:
    """Train ``config`` into ``out_dir`` (checkpoints/, metrics.csv, config.json, split.json).

    ``resume`` continues from a checkpoint of the same config (its step, weights, optimiser, schedule).
    ``init_weights`` starts step 0 from another checkpoint's network weights (fine-tuning: fresh optimiser
    and schedule); its file name and sha256 go into every checkpoint as ``parent``, and a resumed run keeps
    the parent of the checkpoint it resumes.
    """
    if resume is not None and init_weights is not None:
        raise ConfigError("Both resume and init_weights were given", expected="one of them",
                          found=f"resume={resume}, init_weights={init_weights}",
                          hint="Resume continues a run (its parent is kept); init_weights starts a new one")
    rank, world, dev = init_distributed(device)
    distributed = world > 1
    precision = resolve_precision(config.precision, dev)
    out = Path(out_dir)
    if rank == 0:
        (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    np.random.seed(config.seed % 2**32)

    patch = config.augment.patch_size
    cases, weights, record = load_sources(config.train, config.preprocess, pad_to=patch)
    val_cases: list[PreparedCase] = []
    if rank == 0 and config.validation and config.validate_every > 0:
        val_cases, _, val_record = load_sources(config.validation, config.preprocess)
        record = {"train": record, "validation": val_record}
    else:
        record = {"train": record}
    log.info("rank %d/%d on %s (%s): %d training cases", rank, world, dev, precision, len(cases))

    model = build_network(config.network).to(dev)
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.optim.lr, weight_decay=config.optim.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, _poly(config.optim.steps, config.optim.poly_power))
    scaler = torch.amp.GradScaler(dev.type, enabled=precision == "fp16")
    start = 0
    parent: dict | None = None
    if resume is not None:
        start, parent = _restore(Path(resume), config, model, optimiser, schedule, scaler)
    elif init_weights is not None:
        parent = _init_from(Path(init_weights), config, model)
    net: nn.Module = model
    if distributed:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None)
    loss_fn = PartialLabelDiceCELoss(config.optim.dice_weight, config.optim.ce_weight)

    batch = config.optim.batch_size
    dataset = PatchDataset(cases, weights, config.augment, config.seed)
    batches = [[(s * world + rank) * batch + b for b in range(batch)] for s in range(start, config.optim.steps)]
    loader = torch.utils.data.DataLoader(dataset, batch_sampler=batches, num_workers=config.num_workers,
                                         collate_fn=collate_patches, persistent_workers=False)
    if rank == 0:
        _write_json(out / "config.json", config_to_dict(config))
        _write_json(out / "split.json", record)
    metrics_csv = out / "metrics.csv" if rank == 0 else None
    board = _tensorboard(out) if rank == 0 else None
    last_ckpt: Path | None = None
    began = time.monotonic()
    step = start
    t_prev = time.monotonic()
    net.train()
    for data in loader:
        torch.manual_seed(step_seed(config.seed, step, rank))
        image, label = data["image"].to(dev), data["label"].to(dev)
        optimiser.zero_grad(set_to_none=True)
        with autocast(dev, precision):
            logits = net(image)
        loss = loss_fn(logits.float(), label, data["class_to_group"].to(dev), data["n_groups"])
        scaler.scale(loss).backward()
        scaler.step(optimiser)
        scaler.update()
        schedule.step()
        step += 1
        now = time.monotonic()
        loss_value = float(loss.detach())
        if not math.isfinite(loss_value):
            raise ConfigError(f"Training diverged at step {step} (loss {loss_value})",
                              hint="Lower optim.lr or use precision fp32")
        if board is not None:
            board.add_scalar("train/loss", loss_value, step)
        if on_step is not None and rank == 0:
            on_step(StepInfo(step, config.optim.steps, loss_value, batch * world / max(now - t_prev, 1e-9)))
        t_prev = now
        out_of_time = config.max_minutes > 0 and (now - began) / 60.0 >= config.max_minutes
        if distributed:
            flag = torch.tensor([1.0 if out_of_time else 0.0], device=dev)
            torch.distributed.all_reduce(flag)
            out_of_time = bool(flag.item() > 0)
        done = step == config.optim.steps or out_of_time
        if rank == 0 and val_cases and (step % config.validate_every == 0 or done):
            rows = validate(model, val_cases, config, dev, precision)
            _append_metrics(metrics_csv, step, loss_value, rows)
            if board is not None:
                for key, value in _mean_dice(rows).items():
                    board.add_scalar(f"validation/{key}", value, step)
            net.train()
        if rank == 0 and (step % config.checkpoint_every == 0 or done):
            last_ckpt = out / "checkpoints" / f"step_{step:07d}.pt"
            _save(last_ckpt, model, optimiser, schedule, scaler, step, config, record, parent)
            _save(out / "checkpoints" / "last.pt", model, optimiser, schedule, scaler, step, config, record, parent)
            _prune(out / "checkpoints", config.keep_checkpoints)
        if out_of_time:
            log.warning("stopping at step %d: max_minutes=%s reached", step, config.max_minutes)
            break
    if board is not None:
        board.close()
    if distributed:
        torch.distributed.barrier()
    return TrainResult(model=model, step=step, checkpoint=last_ckpt, metrics_csv=metrics_csv)


def validate(model: nn.Module, cases: list[PreparedCase], config: TrainConfig, device: torch.device,
             precision: str = "fp32") -> list[dict]:
    """Sliding-window Dice per case and loss group (group 0, background, is not scored)."""
    model.eval()
    rows = []
    for case in cases:
        probs = sliding_window_probs(model, case.image, config.augment.patch_size, config.inference, device,
                                     precision, tta=False)
        pred = probs.argmax(0).numpy()
        scores = group_dice(pred, case.target[0].numpy(), case.class_to_group, case.n_groups)
        for g, value in scores.items():
            rows.append({"source": case.source, "case": case.case_id, "group": case.group_names[g], "dice": value})
    return rows


def _append_metrics(path: Path | None, step: int, loss: float, rows: list[dict]) -> None:
    if path is None:
        return
    new = not path.exists()
    with open(path, "a", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        if new:
            writer.writerow(["step", "train_loss", "source", "case", "group", "dice"])
        for r in rows:
            writer.writerow([step, f"{loss:.6f}", r["source"], r["case"], r["group"],
                             "" if math.isnan(r["dice"]) else f"{r['dice']:.4f}"])
    log.info("validation at step %d: %s", step, {k: round(v, 3) for k, v in _mean_dice(rows).items()})


def _mean_dice(rows: list[dict]) -> dict[str, float]:
    """Mean Dice per source/group over the cases where the group is present."""
    means: dict[str, list[float]] = {}
    for r in rows:
        if not math.isnan(r["dice"]):
            means.setdefault(f"{r['source']}/{r['group']}", []).append(r["dice"])
    return {k: float(np.mean(v)) for k, v in means.items()}


def _tensorboard(out: Path) -> Any:
    """A TensorBoard writer under out/tensorboard where the tensorboard package is installed, else None."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        log.info("tensorboard is not installed: metrics go to metrics.csv only")
        return None
    return SummaryWriter(log_dir=str(out / "tensorboard"))


def _save(path: Path, model: nn.Module, optimiser: torch.optim.Optimizer, schedule: object, scaler: object,
          step: int, config: TrainConfig, record: dict, parent: dict | None) -> None:
    payload = {"model": model.state_dict(), "optimizer": optimiser.state_dict(),
               "scheduler": schedule.state_dict(), "scaler": scaler.state_dict(),  # type: ignore[attr-defined]
               "step": step, "config": config_to_dict(config), "split": record}
    if parent is not None:
        payload["parent"] = parent
    save_checkpoint(path, payload)


def _prune(folder: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` step checkpoints (and their sidecars); 0 keeps every one."""
    if keep <= 0:
        return
    for old in sorted(folder.glob("step_*.pt"))[:-keep]:
        old.unlink()
        old.with_name(old.name + ".sha256").unlink(missing_ok=True)


def _load_same_network(path: Path, config: TrainConfig) -> dict:
    """A checkpoint's payload after checking that its network is ``config.network``."""
    payload = load_checkpoint(path)
    saved = config_from_mapping(TrainConfig, payload["config"], source=f"{path} (config)")
    if saved.network != config.network:
        raise ConfigError(f"Checkpoint {path} was trained with another network",
                          expected=str(config.network), found=str(saved.network),
                          hint="Use the network section of the checkpoint's own config")
    return payload


def _init_from(path: Path, config: TrainConfig, model: nn.Module) -> dict:
    """Load ``path``'s network weights into ``model``; returns the parent record (name, sha256, step)."""
    payload = _load_same_network(path, config)
    model.load_state_dict(payload["model"])
    parent = {"path": path.name, "sha256": file_sha256(path), "state_sha256": payload.get("state_sha256"),
              "step": payload.get("step")}
    log.info("starting from the weights of %s (sha256 %s)", path, parent["sha256"])
    return parent


def _restore(path: Path, config: TrainConfig, model: nn.Module, optimiser: torch.optim.Optimizer,
             schedule: object, scaler: object) -> tuple[int, dict | None]:
    payload = _load_same_network(path, config)
    model.load_state_dict(payload["model"])
    if "optimizer" in payload:
        optimiser.load_state_dict(payload["optimizer"])
        schedule.load_state_dict(payload["scheduler"])  # type: ignore[attr-defined]
        scaler.load_state_dict(payload["scaler"])  # type: ignore[attr-defined]
    log.info("resumed from %s at step %d", path, payload["step"])
    return int(payload["step"]), payload.get("parent")


def _write_json(path: Path, data: object) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
