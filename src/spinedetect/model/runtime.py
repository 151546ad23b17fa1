"""Device and numeric-precision choice shared by training, validation and the predictor."""

from __future__ import annotations

import contextlib
import os
from typing import ContextManager

import torch

from spinedetect.errors import InputError

__all__ = ["resolve_device", "cpu_has_native_bf16", "resolve_precision", "autocast", "init_distributed"]


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"``: CUDA when available, else CPU; ``"cuda"`` without a GPU is an InputError."""
    name = str(device)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError("CUDA was requested but no GPU is available", expected="a CUDA device",
                         found="none", hint="Use --device cpu or --device auto")
    if name != "cpu" and not name.startswith("cuda"):
        raise InputError(f"Unknown device {name!r}", expected="auto, cpu or cuda[:N]", found=repr(name))
    return torch.device(name)


def cpu_has_native_bf16() -> bool:
    """True where the CPU computes bf16 natively (AVX512-BF16 or AMX); elsewhere bf16 is emulated, slower."""
    return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def resolve_precision(precision: str, device: torch.device) -> str:
    """``"auto"`` -> "bf16" on CUDA with bf16 or CPUs with native bf16, "fp16" on older GPUs, else "fp32"."""
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if cpu_has_native_bf16() else "fp32"


def autocast(device: torch.device, precision: str) -> ContextManager:
    """The autocast context for a resolved precision ("fp32" = none)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def init_distributed(device: str | torch.device = "auto") -> tuple[int, int, torch.device]:
    """(rank, world size, device) of this process; under torchrun also joins the process group.

    With ``WORLD_SIZE`` > 1 each rank takes the GPU of its ``LOCAL_RANK`` when the device resolves to
    CUDA (NCCL), else gloo on the CPU. Without torchrun: (0, 1, the resolved device).
    """
    dev = resolve_device(device)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, dev
    import torch.distributed as dist

    if dev.type == "cuda":
        dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    return dist.get_rank(), dist.get_world_size(), dev
