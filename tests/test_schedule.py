import math

import pytest
import torch

from spgd.schedule import (annealing_sigmas, ddpm_betas, euler_factors, linear_decay,
                           vp_sigma, vp_time)


def test_annealing_sigmas_match_values_worked_by_hand():
    s = annealing_sigmas(100)
    assert len(s) == 101 and s[0].item() == pytest.approx(100) and s[-1] == 0
    # sigma_1 of K = 100 (docs/method.md, Noise schedule), worked on a calculator: 100^(1/7) = 1.930698,
    # 0.1^(1/7) = 0.719686, so sigma_1 = (1.930698 + (0.719686 - 1.930698) / 99)^7 = 1.918465^7 = 95.6484.
    # tolerance: those 7-digit intermediates carry ~1e-6 relative error, times 7 for the power: ~1e-3 absolute
    assert s[1].item() == pytest.approx(95.6484, abs=1e-3)
    # tolerance: float64: (0.1 ** (1/7)) ** 7 returns 0.1 to a few ulp (2e-17); 1e-12 relative leaves 1e4 times that
    assert s[-2].item() == pytest.approx(0.1, rel=1e-12)
    assert (s[:-1] > s[1:]).all()


def test_euler_factor_is_the_ratio_form():
    s = annealing_sigmas(10)
    f = euler_factors(s)
    # tolerance: float64 algebraic identity, a few ulp apart; allclose's default rtol 1e-5 is far wider
    assert torch.allclose(f / 2 / s[:-1] ** 2, 1 - s[1:] / s[:-1])


def test_linear_lr_decay():
    """SR's lr 7 over K = 100 steps down to 1 % (docs/method.md): the values worked by hand."""
    assert linear_decay(7.0, 0, 100, 0.01) == 7.0
    assert linear_decay(7.0, 50, 100, 0.01) == pytest.approx(3.535)  # halfway: 7 (1 - 0.5 x 0.99)
    assert linear_decay(7.0, 99, 100, 0.01) == pytest.approx(0.1393)  # last step: 7 (1 - 0.99 x 0.99), above 0.07
    assert linear_decay(7.0, 99, 100, 1.0) == 7.0  # lr_min_ratio 1: constant


def test_vp_time_inverts_and_matches_ddpm_schedule():
    sigma = torch.tensor([0.01, 0.5, 3.0, 80.0], dtype=torch.float64)
    # tolerance: float64 round trip through sqrt and log1p, well conditioned on [0.01, 80]: ulp-level; default rtol
    # 1e-5
    assert torch.allclose(vp_sigma(vp_time(sigma)), sigma)
    alpha_bar = torch.cumprod(1 - ddpm_betas(), 0)
    # c_noise = 999 t(sigma) lands within 0.5 % of the discrete timestep of the same noise level
    for n in (0, 249, 499, 999):
        sigma_n = math.sqrt((1 - alpha_bar[n]) / alpha_bar[n])
        # tolerance: a model, not rounding: the continuous VP time of a discrete step's noise level is off by up to
        # ~0.5 %
        assert 999 * vp_time(sigma_n).item() == pytest.approx(n, abs=1.0, rel=0.005)


def test_schedule_rejects_bad_input():
    with pytest.raises(ValueError, match="steps"):
        annealing_sigmas(0)
    with pytest.raises(ValueError, match="sigma_max"):
        annealing_sigmas(10, sigma_max=0.1, sigma_min=1.0)
