import numpy as np
import pytest
import torch

from spgd.checkpoints import CheckpointError
from spgd.operators import (TASKS, KernelWizard, gaussian_kernel, imresize_matrix, make_operator, motion_kernel)

OFFLINE_TASKS = [t for t in TASKS if t != "nonlinear_blur"]


def images(n=3, size=32, seed=0):
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.mark.parametrize("task", OFFLINE_TASKS)
def test_shapes_and_noise_level(task):
    op = make_operator(task, 32, [0, 1, 2], seed=1)
    x = images()
    clean, y = op(x), op.measure(x)
    expected = {"sr4": (3, 3, 8, 8), "phase_retrieval": (3, 3, 48, 48)}.get(task, (3, 3, 32, 32))
    assert clean.shape == y.shape == expected
    # tolerance: sampling error of a noise std estimated from 9,216 draws (0.7 % standard error), or from SR x4's
    # 576 (3 %); 15 % is 5 standard errors there
    assert (y - clean).std().item() == pytest.approx(op.noise_sigma, rel=0.15)


@pytest.mark.parametrize("task", ["sr4", "box_inpainting", "random_inpainting", "gaussian_blur", "motion_blur"])
def test_linear_operators_are_linear(task):
    op = make_operator(task, 32, [0, 1, 2], seed=1)
    assert op.linear
    a, b = images(seed=1), images(seed=2)
    # tolerance: float32 linear maps of values up to 5 in magnitude: rounding of ~1e-6; 1e-5 is 10x
    assert torch.allclose(op(2 * a - 3 * b), 2 * op(a) - 3 * op(b), atol=1e-5)


def test_nonlinear_operators_are_not_linear():
    for task in ("phase_retrieval", "hdr"):
        op = make_operator(task, 32, [0, 1, 2])
        assert not op.linear
        a = images()
        # tolerance: a nonlinear operator misses linearity by far more than allclose's defaults (rtol 1e-5)
        assert not torch.allclose(op(2 * a), 2 * op(a))


def test_sr_of_a_constant_image_is_constant_and_256_goes_to_64():
    op = make_operator("sr4", 256, [0])
    y = op(torch.full((1, 3, 256, 256), 0.37))
    assert y.shape == (1, 3, 64, 64)
    # tolerance: resize weights sum to 1 in float32: a constant stays itself up to ~1e-7
    assert torch.allclose(y, torch.full_like(y, 0.37), atol=1e-6)


def test_imresize_matrix_is_matlab_bicubic():
    m = imresize_matrix(16, 0.25)
    # tolerance: float64 normalised weights: sums are 1 to an ulp; numpy's default tolerances
    assert m.shape == (4, 16) and np.allclose(m.sum(1), 1)
    # antialiased Keys kernel stretched x4: 16 taps + mirrored boundary, symmetric about the centre
    assert np.allclose(m, m[::-1, ::-1])
    interior = imresize_matrix(64, 0.25)[8]
    taps = interior[interior != 0]
    # tolerance: float64 weights equal by symmetry up to an ulp; numpy's default tolerances
    assert len(taps) == 16 and np.isclose(taps.max(), interior[8 * 4 + 1]) and np.isclose(taps.max(), interior[8 * 4 + 2])
    # MATLAB weight for an interior sample: 0.25 * cubic(0.25 * 0.5) normalised
    cubic = lambda t: 1.5 * abs(t) ** 3 - 2.5 * t**2 + 1
    # tolerance: the MATLAB weight before normalisation differs from the normalised one by ~1e-7 at this scale
    assert np.isclose(taps.max(), 0.25 * cubic(0.125), atol=1e-6)


def test_box_covers_a_quarter_and_stays_in_range():
    op = make_operator("box_inpainting", 256, list(range(20)), seed=0)
    masks = op.params[:, 0]
    assert torch.all((1 - masks).sum((1, 2)) == 128 * 128)
    for m in masks:
        rows = torch.nonzero((m == 0).any(1)).flatten()
        cols = torch.nonzero((m == 0).any(0)).flatten()
        assert 32 <= rows[0] <= 96 and 32 <= cols[0] <= 96
        assert rows[-1] - rows[0] == 127 and cols[-1] - cols[0] == 127
    assert len({tuple(torch.nonzero(m == 0)[0].tolist()) for m in masks}) > 5  # corners vary


def test_random_inpainting_drops_80_percent_for_all_channels():
    op = make_operator("random_inpainting", 64, [0, 1])
    mask = op.params
    assert mask.shape == (2, 1, 64, 64)
    # tolerance: the mask drops exactly round(0.8 * 4096) = 3277 pixels per image, a fraction 0.80005; abs 1e-3 covers
    # that rounding
    assert (mask == 0).float().mean().item() == pytest.approx(0.8, abs=1e-3)
    y = op(torch.ones(2, 3, 64, 64))
    assert torch.equal(y[:, 0], y[:, 1]) and torch.equal(y[:, 0], y[:, 2])


@pytest.mark.parametrize("task", ["gaussian_blur", "motion_blur"])
def test_blur_kernels_sum_to_one_and_scale_with_the_image(task):
    assert make_operator(task, 256, [0]).params.shape[-1] == 61
    op = make_operator(task, 64, [0, 1, 2])
    assert op.params.shape == (3, 1, 17, 17)
    # tolerance: a float32 kernel of 289 taps normalised in float64 and stored in float32: sums within ~3e-6 of 1
    assert torch.allclose(op.params.sum((1, 2, 3)), torch.ones(3), atol=1e-5)
    assert (op.params >= 0).all()
    y = op(torch.full((3, 3, 64, 64), 0.5))  # reflect padding keeps a constant constant
    # tolerance: a constant convolved with that kernel: 0.5 times the kernel's sum, so within ~2e-6
    assert torch.allclose(y, torch.full_like(y, 0.5), atol=1e-5)


def test_gaussian_kernel_std_is_three_at_256():
    k = make_operator("gaussian_blur", 256, [0]).params[0, 0].double()
    r = torch.arange(61, dtype=torch.float64) - 30
    marginal = k.sum(0)
    # tolerance: truncation at 4 std shrinks the discrete std by ~4e-4 relative (a model difference, not rounding)
    assert torch.sqrt((marginal * r**2).sum()).item() == pytest.approx(3.0, rel=1e-3)


def test_gaussian_kernel_is_upstreams_truncated_at_four_std():
    """scipy's gaussian_filter of a centred delta (docs/method.md, Tasks): separable, zero beyond radius
    int(4 * 3.0 + 0.5) = 12, each 1-D factor a normalised Gaussian of that radius."""
    k = torch.as_tensor(gaussian_kernel(61, 3.0))
    r = torch.arange(-12, 13, dtype=torch.float64)
    g = torch.exp(-(r**2) / 18)
    g /= g.sum()
    expected = torch.zeros(61, 61, dtype=torch.float64)
    expected[30 - 12:30 + 13, 30 - 12:30 + 13] = torch.outer(g, g)
    # tolerance: scipy's filter and this formula normalise the same float64 exponentials: a few ulp of taps below 0.02
    # (ulp 3.5e-18), and the ndimage filter is not BLAS, so not CPU dependent; 1e-15 is ~300 ulp
    assert torch.allclose(k, expected, atol=1e-15, rtol=0)
    full = torch.exp(-(torch.arange(-30, 31, dtype=torch.float64) ** 2) / 18)
    full = torch.outer(full, full) / full.sum() ** 2
    assert 1e-7 < (k - full).abs().max() < 1.5e-6  # what the full-window kernel got wrong


def test_motion_kernels_are_random_paths():
    kernels = [motion_kernel(np.random.default_rng(s), 61, 0.5) for s in range(5)]
    for k in kernels:
        # tolerance: a float64 normalised kernel sums to 1 within ulps; numpy's default tolerances
        assert k.shape == (61, 61) and np.isclose(k.sum(), 1)
        assert (k > 1e-4).sum() > 20  # a path, not a point
    assert not np.allclose(kernels[0], kernels[1])


def test_phase_retrieval_ignores_a_global_sign_flip():
    op = make_operator("phase_retrieval", 32, [0, 1, 2])
    x = images()
    flipped = -x - 2  # (x' + 1) / 2 == -(x + 1) / 2
    # tolerance: float32 FFT of sign-flipped inputs: amplitudes of order 10 agree to ~1e-6; 1e-5 is 10x
    assert torch.allclose(op(flipped), op(x), atol=1e-5)
    # tolerance: a channel flip changes the amplitudes by order 1, far beyond 1e-3
    assert not torch.allclose(op(x.flip(1)), op(x), atol=1e-3)
    assert op.pad == 8 and op(x).shape[-1] == 48
    padded = torch.nn.functional.pad((x + 1) / 2, (8,) * 4)
    # tolerance: the same float32 FFT: identical or ulp-level; default tolerances
    assert torch.allclose(op(x), torch.fft.fftshift(torch.fft.fft2(padded, norm="ortho").abs(), dim=(-2, -1)))


def test_hdr_doubles_and_clips():
    op = make_operator("hdr", 32, [0])
    x = torch.tensor([-0.9, -0.3, 0.0, 0.2, 0.7]).repeat(1, 3, 32, 32 // 5 + 1)[..., :32]
    # tolerance: 2x and a clamp are exact in float32; allclose for brevity
    assert torch.allclose(op(x), torch.clamp(2 * x, -1, 1))


def test_per_image_parameters_do_not_depend_on_the_batch():
    big = make_operator("motion_blur", 32, ["a", "b", "c"], seed=7)
    alone = make_operator("motion_blur", 32, ["b"], seed=7)
    assert torch.equal(big.params[1], alone.params[0])
    assert not torch.equal(big.params[0], big.params[1])
    x = images()
    assert torch.equal(big.measure(x)[1], alone.measure(x[1:2])[0])
    other_seed = make_operator("motion_blur", 32, ["b"], seed=8)
    assert not torch.equal(other_seed.params[0], alone.params[0])


def test_shared_mimics_upstream_one_mask_per_run():
    op = make_operator("random_inpainting", 32, [0, 1, 2], shared=True)
    assert torch.equal(op.params[0], op.params[1]) and torch.equal(op.params[1], op.params[2])


def test_bad_task_input_is_named():
    with pytest.raises(ValueError, match="unknown task 'deblur'"):
        make_operator("deblur", 32)
    with pytest.raises(ValueError, match="the image size 30 is not divisible by the factor 4"):
        make_operator("sr4", 30)
    with pytest.raises(ValueError, match="expected input of shape"):
        make_operator("hdr", 32, [0]).measure(images())


def test_nonlinear_blur_needs_its_weight_file(tmp_path):
    missing = tmp_path / "GOPRO_wVAE.pth"
    with pytest.raises(CheckpointError, match="GOPRO_wVAE.pth does not exist"):
        make_operator("nonlinear_blur", 128, [0], weights=str(missing))
    with pytest.raises(CheckpointError, match="no weight file configured"):
        make_operator("nonlinear_blur", 128, [0])


@pytest.fixture(scope="module")
def random_kernel_wizard(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("bkse") / "GOPRO_wVAE_random_init.pth"
    torch.save(KernelWizard().state_dict(), path)
    return path


def test_nonlinear_blur_architecture_loads_strictly_and_runs(random_kernel_wizard):
    op = make_operator("nonlinear_blur", 128, [0, 1], weights=str(random_kernel_wizard))
    assert op.params.shape == (2, 512, 1, 1)
    # 115,265,475 parameters in 159 tensors: what BKSE's own KernelWizard (forward_operator/bkse/models/
    # kernel_encoding/kernel_wizard.py in github.com/74587887/SPGD, commit e57cb7b) has when built with its
    # options/generate_blur/default.yml; counted there, with the same state-dict keys and shapes as ours
    assert sum(p.numel() for p in op.wizard.parameters()) == 115_265_475 and len(op.wizard.state_dict()) == 159
    assert not any(p.requires_grad for p in op.wizard.parameters())
    x = images(2, 128).requires_grad_(True)
    y = op(x)
    assert y.shape == x.shape and y.min() >= -1 and y.max() <= 1
    y.sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_nonlinear_blur_rejects_a_wrong_file(tmp_path, random_kernel_wizard):
    state = torch.load(random_kernel_wizard, weights_only=True)
    state["adapter.model.down.0.weight"] = torch.zeros(1, 2, 3, 3)
    wrong = tmp_path / "wrong.pth"
    torch.save(state, wrong)
    with pytest.raises(CheckpointError, match=r"wrong.pth does not match the architecture: .*wrong shapes"):
        make_operator("nonlinear_blur", 128, [0], weights=str(wrong))
