"""Speed modes of a prior's network, each opt-in (the default is float32, as published):

- ``precision="bf16"``: the network runs under bfloat16 autocast (convolutions and matrix products
  in bfloat16); its output, and so the loss, the gradient and every sampler update, stay float32;
- ``channels_last=True``: the network's weights and inputs in channels-last memory order;
- ``compile=True``: ``torch.compile`` of the network, its forward and (through AOTAutograd) the
  input gradient's backward; a noise level reaches it as a tensor, so one compilation serves every
  step.

Each changes results in the last bits (bf16 by far the most); docs/paper.md, "Speed modes", gives the
measured speed and drift.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from .base import Prior, sigma_per_image

PRECISIONS = ("fp32", "bf16")
# torch.compile's backend; the tests use "aot_eager" (the same capture, no code generation)
COMPILE_BACKEND = "inductor"


@dataclass(frozen=True)
class SpeedModes:
    """``precision``: "fp32" (default) or "bf16"; ``channels_last`` and ``compile``: default off."""

    precision: str = "fp32"
    channels_last: bool = False
    compile: bool = False

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")

    @property
    def any(self) -> bool:
        return self != SpeedModes()


class FastPrior(Prior):
    """``prior`` evaluated with ``modes`` (``with_speed_modes`` builds it). The wrapped prior's
    network is compiled in place (``network_name``: the attribute holding it)."""

    def __init__(self, prior: Prior, modes: SpeedModes, backend: str | None = None):
        super().__init__()
        self.prior, self.modes = prior, modes
        if modes.channels_last:
            prior.to(memory_format=torch.channels_last)
        if modes.compile:
            name = getattr(prior, "network_name", None)
            if name is None:
                raise ValueError(f"compile: the {type(prior).__name__} prior has no network to compile")
            setattr(prior, name, torch.compile(getattr(prior, name), backend=backend or COMPILE_BACKEND,
                                               dynamic=False))

    def _context(self, x: torch.Tensor):
        if self.modes.precision == "bf16":
            return torch.autocast(x.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _layout(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.modes.channels_last else x

    def denoise(self, x: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
        with self._context(x):
            out = self.prior.denoise(self._layout(x), sigma_per_image(sigma, x))
        return out.to(x.dtype).contiguous()

    def ddpm_x0(self, x_t: torch.Tensor, timestep: int, alpha_bar: float):
        with self._context(x_t):
            x0, variance_values = self.prior.ddpm_x0(self._layout(x_t), timestep, alpha_bar)
        if variance_values is not None:
            variance_values = variance_values.to(x_t.dtype).contiguous()
        return x0.to(x_t.dtype).contiguous(), variance_values


def with_speed_modes(prior: Prior, modes: SpeedModes | dict | None = None, backend: str | None = None) -> Prior:
    """``prior`` itself when every mode is off (the default path stays exactly as it is), else a
    ``FastPrior``; ``modes`` as a ``SpeedModes`` or its keys."""
    modes = SpeedModes(**modes) if isinstance(modes, dict) else modes or SpeedModes()
    return FastPrior(prior, modes, backend) if modes.any else prior
