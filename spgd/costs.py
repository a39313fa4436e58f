"""What one evaluation of a prior costs, counted without running it: the memory its activations
take and its floating-point operations, for a forward pass alone (DAPS) and for a forward pass with
the backward pass to the input that guidance needs (SPGD, DPS).

The prior is built on PyTorch's ``meta`` device: tensors with shapes and no data, so a 552 M
parameter UNet at 256 px is traced in about a second on any machine. Memory is the peak of the
bytes held by the tensors alive during the evaluation (each storage counted once, views and
in-place results adding nothing, freed storages subtracted as autograd releases them), on top of
the weights and the input. FLOPs come from ``torch.utils.flop_counter`` (convolutions and matrix
products; elementwise work is not counted). Memory is counted for one and two blocks of the
network (``Prior.network_batch`` images), so that a part that does not grow with the batch is told
apart from the per-image part; FLOPs per image of one block.

Checked against PyTorch's profiler on the CPU (``tests/test_costs.py``): within 5 % for the FFHQ UNet at
64 px and the ImageNet one at 32 px (a block of 4 images). A GPU adds what this does not see: the CUDA context,
cuDNN's workspaces, the caching allocator's rounding; ``fitting_batch`` leaves room for them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import torch
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import FlopCounterMode

GIB = 2**30
# Room left on a device beside the predicted peak: a share of the activations (the allocator's
# rounding, operator and sampler tensors, cuDNN's workspaces grow with the batch) and a fixed
# amount (workspaces of the largest convolutions, the sampler state of a batch, fragmentation).
MARGIN = 0.10
RESERVE_BYTES = 1 * GIB


@dataclass(frozen=True)
class EvaluationCost:
    """Bytes and FLOPs of one prior evaluation at one image shape. ``*_per_image`` grow with the
    batch, ``*_fixed`` do not; ``weight_bytes`` are the prior's parameters and buffers; the network
    sees whole blocks of ``block`` images (``Prior.network_batch``), so a batch costs as its blocks."""

    image_shape: tuple
    block: int
    weight_bytes: int
    forward_bytes_per_image: int
    forward_bytes_fixed: int
    gradient_bytes_per_image: int
    gradient_bytes_fixed: int
    flop_forward: int
    flop_gradient: int

    def peak_bytes(self, batch: int, gradient: bool = True) -> int:
        """Predicted peak memory of one evaluation of ``batch`` images, weights included;
        ``gradient``: with the input-gradient backward pass."""
        per_image, fixed = ((self.gradient_bytes_per_image, self.gradient_bytes_fixed) if gradient
                            else (self.forward_bytes_per_image, self.forward_bytes_fixed))
        return self.weight_bytes + fixed + -(-batch // self.block) * self.block * per_image

    def flops(self, nfe_forward: int, nfe_backward: int) -> int:
        """FLOPs of ``nfe_forward`` evaluations, ``nfe_backward`` of them with the input gradient
        (NFE as ``Sampler.planned_nfe`` counts them)."""
        return (nfe_forward - nfe_backward) * self.flop_forward + nfe_backward * self.flop_gradient


class _LiveBytes(TorchDispatchMode):
    """Tracks the bytes of the storages that operators create while the mode is active, and their
    peak. A storage an operator shares with one of its inputs (a view, an in-place result) is not
    new; storages alive before the mode (weights, the input) are not counted."""

    def __init__(self):
        super().__init__()
        self.live: dict[int, tuple[StorageWeakRef, int]] = {}
        self.current = self.peak = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for key in [key for key, (ref, _) in self.live.items() if ref.expired()]:
            self.current -= self.live.pop(key)[1]
        inputs = {t.untyped_storage()._cdata for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)}
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                storage = t.untyped_storage()
                if storage._cdata not in inputs and storage._cdata not in self.live:
                    self.live[storage._cdata] = (StorageWeakRef(storage), storage.nbytes())
                    self.current += storage.nbytes()
        self.peak = max(self.peak, self.current)
        return out


def _evaluate(prior, x: torch.Tensor, gradient: bool) -> None:
    if gradient:
        x = x.detach().requires_grad_(True)
        torch.autograd.grad(prior.denoise(x, 1.0).square().sum(), x)
    else:
        with torch.no_grad():
            prior.denoise(x, 1.0)


def peak_activation_bytes(prior, x: torch.Tensor, gradient: bool = True) -> int:
    """Peak bytes of the tensors created by one evaluation of ``prior`` on ``x`` (any device;
    ``meta`` costs no compute)."""
    with _LiveBytes() as tracker:
        _evaluate(prior, x, gradient)
    return tracker.peak


def measured_peak_bytes(prior, x: torch.Tensor, gradient: bool = True) -> int:
    """Peak bytes the device's allocator handed out during one evaluation of ``prior`` on ``x``
    beyond what was allocated before it (after a warm-up evaluation): CUDA's
    ``max_memory_allocated``, or on the CPU the allocation records of torch's profiler (each
    carries the allocator's running total). The measurement the model is checked against."""
    _evaluate(prior, x, gradient)
    if x.device.type == "cuda":
        torch.cuda.synchronize(x.device)
        before = torch.cuda.memory_allocated(x.device)
        torch.cuda.reset_peak_memory_stats(x.device)
        _evaluate(prior, x, gradient)
        torch.cuda.synchronize(x.device)
        return torch.cuda.max_memory_allocated(x.device) - before
    from torch._C._profiler import _EventType
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        _evaluate(prior, x, gradient)
    nodes, peak = list(prof.profiler.kineto_results.experimental_event_tree()), 0
    while nodes:
        node = nodes.pop()
        nodes += node.children
        if node.tag == _EventType.Allocation:
            peak = max(peak, node.extra_fields.total_allocated)
    return peak


def flop_count(prior, x: torch.Tensor, gradient: bool = True) -> int:
    """Floating-point operations of one evaluation of ``prior`` on ``x``, by torch's counter."""
    with FlopCounterMode(display=False) as counter:
        _evaluate(prior, x, gradient)
    return counter.get_total_flops()


def structure_of(spec: dict) -> torch.nn.Module:
    """The configured prior's network on the ``meta`` device (no weights read), for counting; a
    Gaussian-mixture prior is built as it is (it has no network and little memory)."""
    from .priors import make_prior, with_network_batch
    from .priors.adm import ADMPrior
    from .priors.unet import EDMUNetPrior

    if spec["type"] == "adm":
        return with_network_batch(ADMPrior.untrained(spec.get("architecture", "ffhq"), device="meta"), spec)
    if spec["type"] == "edm_unet":
        return with_network_batch(EDMUNetPrior.untrained(device="meta"), spec)
    return make_prior(spec)


def evaluation_cost(prior: torch.nn.Module, image_shape: tuple) -> EvaluationCost:
    """The ``EvaluationCost`` of ``prior`` for images of ``image_shape`` (C, H, W), counted on the
    prior's device (``structure_of`` gives one on ``meta``)."""
    device = next(iter(prior.parameters()), next(iter(prior.buffers()), torch.empty(0))).device
    weights = sum(t.numel() * t.element_size() for t in [*prior.parameters(), *prior.buffers()])
    x = lambda batch: torch.zeros(batch, *image_shape, device=device)

    block = getattr(prior, "network_batch", None) or 1

    def split(gradient):  # (per image, fixed) from one block and two
        one, two = (peak_activation_bytes(prior, x(count * block), gradient) for count in (1, 2))
        return (two - one) // block, max(0, 2 * one - two)

    (forward_per_image, forward_fixed), (gradient_per_image, gradient_fixed) = split(False), split(True)
    return EvaluationCost(tuple(image_shape), block, weights, forward_per_image, forward_fixed, gradient_per_image,
                          gradient_fixed, flop_count(prior, x(block), False) // block,
                          flop_count(prior, x(block), True) // block)


_COUNTED: dict[str, EvaluationCost] = {}


def prior_cost(spec: dict, image_shape: tuple) -> EvaluationCost:
    """``evaluation_cost`` of the configured prior ``spec`` (no weight file read); counted once per
    process for each network structure and shape (the plan asks per table; checkpoints of one
    architecture cost the same)."""
    structure = {key: spec.get(key) for key in ("type", "architecture", "side", "network_batch")}
    key = json.dumps([structure, list(image_shape)], sort_keys=True, default=str)
    if key not in _COUNTED:
        _COUNTED[key] = evaluation_cost(structure_of(spec), tuple(image_shape))
    return _COUNTED[key]


def fitting_batch(cost: EvaluationCost, free_bytes: int, gradient: bool = True, limit: int | None = None,
                  weights_loaded: bool = True) -> int:
    """The largest batch in whole blocks of the network (at most ``limit``) whose predicted peak,
    with ``MARGIN`` of the per-image bytes and ``RESERVE_BYTES`` on top, fits in ``free_bytes``; 0
    when not even one block fits. ``weights_loaded``: the weights already take part of the memory
    that ``free_bytes`` excludes."""
    per_image = cost.gradient_bytes_per_image if gradient else cost.forward_bytes_per_image
    base = cost.peak_bytes(0, gradient) - (cost.weight_bytes if weights_loaded else 0) + RESERVE_BYTES
    images = int((free_bytes - base) // max(1.0, per_image * (1 + MARGIN)))
    batch = max(0, images // cost.block * cost.block)
    return min(batch, limit) if limit else batch
