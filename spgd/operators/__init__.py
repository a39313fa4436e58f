"""The eight paper tasks as forward operators. ``make_operator(name, image_size, image_ids, seed)``."""

from __future__ import annotations

from typing import Sequence

from .base import Operator
from .blur import GaussianBlur, MotionBlur, gaussian_kernel, motion_kernel
from .inpainting import BoxInpainting, RandomInpainting
from .nonlinear_blur import KernelWizard, NonlinearBlur
from .pointwise import HighDynamicRange, PhaseRetrieval
from .resize import SuperResolution, imresize_matrix

OPERATORS: dict[str, type[Operator]] = {
    cls.name: cls
    for cls in (
        SuperResolution, BoxInpainting, RandomInpainting, GaussianBlur,
        MotionBlur, PhaseRetrieval, NonlinearBlur, HighDynamicRange,
    )
}
TASKS = tuple(OPERATORS)


def make_operator(
    name: str,
    image_size: int,
    image_ids: Sequence[object] = (0,),
    seed: int = 0,
    **options,
) -> Operator:
    """Build task ``name`` for a batch of images; ``options`` go to the operator class
    (``noise_sigma``, ``shared``, ``channels`` and task-specific ones such as ``weights``)."""
    if name not in OPERATORS:
        raise ValueError(f"unknown task {name!r}; expected one of {', '.join(TASKS)}")
    return OPERATORS[name](image_size, image_ids, seed, **options)


__all__ = [
    "OPERATORS", "TASKS", "Operator", "make_operator", "SuperResolution", "BoxInpainting",
    "RandomInpainting", "GaussianBlur", "MotionBlur", "PhaseRetrieval", "NonlinearBlur",
    "HighDynamicRange", "KernelWizard", "gaussian_kernel", "motion_kernel", "imresize_matrix",
]
