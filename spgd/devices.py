"""Devices: the configured device checked, a free GPU claimed per job, and wall-clock timing
that waits for the device (the compute plan and the benchmarks)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import time
from pathlib import Path

import torch


def set_torch_threads(configured: int, granted: int, log) -> None:
    """torch's CPU threads for a job: the config's ``threads``, since CPU numbers depend on them,
    whatever Snakemake granted (``--cores``, ``--set-threads``); a smaller grant is logged."""
    torch.set_num_threads(configured)
    if granted < configured:
        print(f"torch runs {configured} threads (config threads) where Snakemake granted {granted}: jobs running "
              "side by side share the cores; the config's threads sets both", file=log)


def pick_device(requested: str) -> torch.device:
    """The configured device, checked; see ``claimed_device`` for "cuda" on several GPUs."""
    device = torch.device(requested)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {requested!r} was configured but CUDA is not available on this machine")
    return device


GPU_LOCK_DIR = Path(tempfile.gettempdir()) / "spgd-gpu-locks"


@contextlib.contextmanager
def claim_gpu(visible: list[str], lock_dir: Path = GPU_LOCK_DIR, timeout: float | None = None):
    """Hold an exclusive lock on one of the ``visible`` GPUs (ids as in CUDA_VISIBLE_DEVICES) for
    the job's lifetime; yields its index among them. Snakemake assigns no GPU ids, but with
    ``--resources gpu=N`` at most N jobs hold one, so a free GPU is found; the locks are per
    machine (flock, released when the process ends, even if it crashes)."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    while True:
        for index, gpu in enumerate(visible):
            handle = open(lock_dir / f"gpu-{gpu}.lock", "w")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            try:
                yield index
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()
            return
        if timeout is not None and time.monotonic() - start > timeout:
            raise TimeoutError(f"no free GPU among {visible} after {timeout} s (locks in {lock_dir})")
        time.sleep(0.5)


@contextlib.contextmanager
def claimed_device(requested: str):
    """The device a job runs on. "cuda" with several visible GPUs: a free one, claimed for the
    job's lifetime (``claim_gpu``); "cuda:K", a single GPU and the CPU: as configured. Honours
    CUDA_VISIBLE_DEVICES (a job restricted to one GPU uses that one)."""
    device = pick_device(requested)
    count = torch.cuda.device_count() if device.type == "cuda" else 0
    if device.type != "cuda" or device.index is not None or count <= 1:
        yield device
        return
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", ",".join(map(str, range(count)))).split(",")[:count]
    with claim_gpu(visible, GPU_LOCK_DIR) as index:
        yield torch.device("cuda", index)


def synchronize(device) -> None:
    """Wait for the queued work of a CUDA device (nothing to wait for on the CPU)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device, clock=time.perf_counter) -> tuple[float, object]:
    """(seconds of ``fn()`` measured with ``clock`` once the device has finished, its value)."""
    synchronize(device)
    start = clock()
    value = fn()
    synchronize(device)
    return clock() - start, value


def denoiser_calls(prior, x: torch.Tensor):
    """(forward, forward_backward): one call of ``prior.denoise`` on the batch ``x`` without
    gradient, and one with the backward pass to the input that guidance needs."""
    def forward():
        with torch.no_grad():
            prior.denoise(x, 1.0)

    def forward_backward():
        inputs = x.detach().requires_grad_(True)
        torch.autograd.grad(prior.denoise(inputs, 1.0).square().sum(), inputs)

    return forward, forward_backward


def denoiser_seconds(prior, x: torch.Tensor, repeats: int = 3) -> tuple[float, float]:
    """(forward, forward with backward) seconds of one ``denoiser_calls`` call on the batch ``x``:
    the minimum over ``repeats`` calls after one warm-up."""
    forward, forward_backward = denoiser_calls(prior, x)
    forward_backward()
    return (min(timed(forward, x.device)[0] for _ in range(repeats)),
            min(timed(forward_backward, x.device)[0] for _ in range(repeats)))
