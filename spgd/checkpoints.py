"""Strict, loud loading of external weight files (diffusion checkpoints, the BKSE blur model).

Never a silent random-weight fallback: a missing, truncated, wrong-hash or wrong-shaped file
raises ``CheckpointError`` naming the file and the problem.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterable

import torch


class CheckpointError(RuntimeError):
    pass


def sha256_of(path: str | Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def load_weights(
    module: torch.nn.Module,
    path: str | Path | None,
    *,
    what: str,
    where_to_get: str = "",
    sha256: str | None = None,
    ignore_missing: Iterable[str] = (),
    assign: bool = False,
) -> None:
    """Load a raw state dict into ``module`` with strict key and shape checks.

    ``ignore_missing`` names buffers the module computes itself and the file need not hold.
    ``assign``: the file's tensors replace the module's (for a module built on the meta device,
    which skips random initialisation: every parameter comes from the file).
    """
    hint = f" ({where_to_get})" if where_to_get else ""
    if path is None or str(path) == "":
        raise CheckpointError(f"{what}: no weight file configured{hint}")
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{what}: weight file {path} does not exist{hint}")
    if sha256 is not None:
        actual = sha256_of(path)
        if actual.lower() != sha256.lower():
            raise CheckpointError(f"{what}: {path} has sha256 {actual}, expected {sha256}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated zip, pickle garbage, not a torch file
        raise CheckpointError(f"{what}: cannot read {path} as a torch state dict: {error}") from error
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{what}: {path} does not hold a plain state dict of tensors")
    expected = module.state_dict()
    ignored = set(ignore_missing)
    missing = sorted(set(expected) - set(state) - ignored)
    unexpected = sorted(set(state) - set(expected))
    wrong_shape = [
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in sorted(set(state) & set(expected))
        if state[k].shape != expected[k].shape
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing keys (first: {missing[:3]})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys (first: {unexpected[:3]})")
    if wrong_shape:
        problems.append(f"{len(wrong_shape)} wrong shapes (first: {wrong_shape[:2]})")
    if problems:
        raise CheckpointError(f"{what}: {path} does not match the architecture: " + "; ".join(problems))
    module.load_state_dict(state, strict=False, assign=assign)
