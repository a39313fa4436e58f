"""Import torchvision on a CPU-only torch whose matching torchvision wheel is a CUDA build.

With torch 2.13.0+cpu and the PyPI ``torchvision==0.28.0`` (CUDA build), ``import torchvision``
fails with "operator torchvision::nms does not exist" (pytorch/vision#9085), and so does every
package that imports it (deepinv, lpips, pytorch_fid, torchmetrics). The workaround registers the
two missing operator schemas and imports again. It is applied only when that exact error happens;
a working torchvision is left alone.
"""

from __future__ import annotations

import importlib
import sys

_MISSING_OPERATOR = "operator torchvision::nms does not exist"
# The schema library must stay alive for the registered operators to stay registered.
_schema_library = None


def import_torchvision():
    """Return the ``torchvision`` module, registering the missing CPU operator schemas if needed."""
    global _schema_library
    try:
        return importlib.import_module("torchvision")
    except RuntimeError as error:
        if _MISSING_OPERATOR not in str(error):
            raise
    import torch

    _schema_library = torch.library.Library("torchvision", "DEF")
    _schema_library.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _schema_library.define(
        "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor"
    )
    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]
    return importlib.import_module("torchvision")
