"""Which arithmetic the VGG forward/backward runs in: ``fp32`` or ``bf16`` (autocast), and why.

bfloat16 halves the bytes of every activation and, where the hardware has bf16 dot products
(x86 AVX512-BF16 / AMX, CUDA from Ampere on), roughly halves the time of the convolutions.
Only the network runs in bf16: Gram matrices, losses, the image and the optimiser state stay
fp32 (half-precision sums of squares overflow or drown the style signal). ``auto`` picks bf16
only where it is fast; elsewhere bf16 would be emulated and slower than fp32.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

AUTO, FP32, BF16 = "auto", "fp32", "bf16"
CHOICES = (AUTO, FP32, BF16)
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # /proc/cpuinfo names of native bf16 dot products


@dataclass(frozen=True)
class Resolution:
    """What ``auto`` means on one device: the mode and a one-line reason (capabilities, logs)."""

    mode: str  # fp32 | bf16
    reason: str


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The first CPU's feature flags (empty where /proc/cpuinfo is absent: not Linux)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def cuda_supports_bf16(device: torch.device) -> bool:
    # compute capability 8.0 (Ampere) and later have bf16 tensor cores; torch's own check also
    # accepts older GPUs that emulate it, which would be slower than fp32.
    return torch.cuda.get_device_capability(device) >= (8, 0)


def resolve_auto(device: torch.device, flags: Callable[[], frozenset[str]] = cpu_flags,
                 cuda_bf16: Callable[[torch.device], bool] = cuda_supports_bf16) -> Resolution:
    """bf16 where the device computes it natively, fp32 elsewhere. ``flags`` / ``cuda_bf16`` are
    injectable so tests can fake any CPU or GPU."""
    if device.type == "cuda":
        if cuda_bf16(device):
            return Resolution(BF16, "CUDA device with native bf16 (compute capability >= 8.0)")
        return Resolution(FP32, "CUDA device without native bf16 (compute capability < 8.0)")
    if device.type == "cpu":
        found = sorted(set(CPU_BF16_FLAGS) & flags())
        if found:
            return Resolution(BF16, f"CPU flags show {' and '.join(found)}")
        return Resolution(FP32, f"CPU flags show neither {' nor '.join(CPU_BF16_FLAGS)}: bf16 would be emulated")
    return Resolution(FP32, f"no bf16 fast path known for device type {device.type}")


def resolve(setting: str, auto: Resolution) -> str:
    """A job's mode: its explicit setting, or what ``auto`` resolved to on this worker."""
    return auto.mode if setting == AUTO else setting


def autocast(mode: str, device: torch.device) -> contextlib.AbstractContextManager[object]:
    """The context the VGG forward runs in (autograd replays the same casts in backward)."""
    if mode == BF16:
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def configure_cuda() -> None:
    """fp32 mode on CUDA: TF32 tensor cores for convolutions and matmuls (10-bit mantissa inputs,
    fp32 accumulation; Ampere+); cuDNN picks the fastest algorithm per fixed input size."""
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.benchmark = True
