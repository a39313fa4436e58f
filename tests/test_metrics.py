import math

import numpy as np
import pytest
import torch

from spgd.metrics import psnr, ssim
from spgd.operators import make_operator


def photo(size=32):
    g = torch.Generator().manual_seed(0)
    base = torch.rand(1, 3, size // 4, size // 4, generator=g)
    return torch.nn.functional.interpolate(base, size=size, mode="bilinear") * 2 - 1


def test_identity_scores():
    x = photo()
    assert psnr(x, x).item() == math.inf  # stated: identical images give +inf, not a cap
    # tolerance: identical inputs: numerator and denominator are the same float64 products, so the ratio is 1 to an
    # ulp
    assert ssim(x, x).item() == pytest.approx(1.0, abs=1e-12)


def test_psnr_known_value_and_clipping():
    ref = torch.zeros(1, 3, 16, 16)  # 0.5 in [0, 1]
    assert psnr(ref + 0.2, ref).item() == pytest.approx(10 * math.log10(1 / 0.1**2))
    assert psnr(torch.full_like(ref, 5.0), ref).item() == pytest.approx(psnr(torch.ones_like(ref), ref).item())


def test_more_blur_scores_worse():
    x = photo(64)
    scores = []
    for std in (0.5, 1.0, 2.0, 4.0):
        blurred = make_operator("gaussian_blur", 64, [0], kernel_size=25, std=std)(x)
        scores.append((psnr(blurred, x).item(), ssim(blurred, x).item()))
    assert all(a[0] > b[0] and a[1] > b[1] for a, b in zip(scores, scores[1:]))


def test_ssim_matches_an_independent_numpy_computation():
    g = torch.Generator().manual_seed(1)
    a, b = torch.rand(1, 1, 16, 16, generator=g) * 2 - 1, torch.rand(1, 1, 16, 16, generator=g) * 2 - 1
    x, y = ((a.double() + 1) / 2)[0, 0].numpy(), ((b.double() + 1) / 2)[0, 0].numpy()
    r = np.arange(11) - 5
    w = np.exp(-(r**2) / (2 * 1.5**2)); w = np.outer(w, w) / np.outer(w, w).sum()
    values = []
    for i in range(6):
        for j in range(6):
            pa, pb = x[i : i + 11, j : j + 11], y[i : i + 11, j : j + 11]
            ma, mb = (w * pa).sum(), (w * pb).sum()
            va, vb = (w * pa * pa).sum() - ma**2, (w * pb * pb).sum() - mb**2
            c = (w * pa * pb).sum() - ma * mb
            values.append(((2 * ma * mb + 1e-4) * (2 * c + 9e-4)) / ((ma**2 + mb**2 + 1e-4) * (va + vb + 9e-4)))
    # tolerance: float64 both ways, 121-term window sums in another order: ~1e-15 on SSIM values of order 0.1; 1e-10
    # is wide
    assert ssim(a, b).item() == pytest.approx(np.mean(values), abs=1e-10)


def test_ssim_rejects_tiny_images():
    with pytest.raises(ValueError, match="smaller than the 11-px window"):
        ssim(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8))
