"""Speed modes of the prior (spgd.priors.speed): each runs, the default path is untouched, and the
drift of each stays within the bound docs/paper.md, "Speed modes", states."""

import pytest
import torch

import spgd.priors.speed as speed
from spgd.demo.photos import held_out_views
from spgd.metrics.pixel import psnr
from spgd.operators import make_operator
from spgd.priors import EDMUNetPrior
from spgd.priors.speed import SpeedModes, with_speed_modes
from spgd.samplers import make_sampler

# mode: (settings, max |dD|, least gradient cosine, largest |dPSNR| dB of a short SPGD restoration).
# tolerance: the bounds docs/paper.md states. bf16 keeps 8 bits of mantissa: this test found |dD| 0.009, cosine
# 0.99990 and |dPSNR| 0.042 dB on this project's CPU (oneDNN's bf16 kernels); the bounds are 5x, 10x (in
# 1 - cosine) and 5x that, for other CPUs' bf16 kernels. channels_last and compile only reorder float32 sums
# (found 1.1e-6 and 0 in D, cosines >= 0.9999996): 1e-5 is 10x float32's rounding of values near 1
MODES = {"bf16": (dict(precision="bf16"), 0.05, 0.999, 0.2),
         "channels_last": (dict(channels_last=True), 1e-5, 0.999999, 1e-3),
         "compile": (dict(compile=True), 1e-5, 0.999999, 1e-3)}


def restore(prior, op, y):
    return make_sampler("spgd", prior, steps=8, warmup=2, lr=1.0).sample(op, y, [1, 2]).x


@pytest.mark.parametrize("mode", MODES)
def test_speed_mode_drift_stays_within_its_bound(mode, monkeypatch):
    # compile's capture (TorchDynamo, AOTAutograd) without inductor's code generation, which takes a minute
    # on 2 cores; benchmarks/speed_modes.py measures inductor itself
    monkeypatch.setattr(speed, "COMPILE_BACKEND", "aot_eager")
    settings, max_change, least_cosine, max_psnr_change = MODES[mode]
    reference, fast = EDMUNetPrior(), with_speed_modes(EDMUNetPrior(), settings)
    truth, _ = held_out_views(2, 32)
    op = make_operator("sr4", 32, [0, 1], 0, channels=3)
    y = op.measure(truth)
    for sigma in (5.0, 0.5, 0.05):
        x = truth + sigma * torch.randn(truth.shape, generator=torch.Generator().manual_seed(0))
        outputs = []
        for prior in (reference, fast):
            inputs = x.clone().requires_grad_(True)
            denoised = prior.denoise(inputs, sigma)
            (gradient,) = torch.autograd.grad((op(denoised) - y).square().sum(), inputs)
            assert denoised.dtype == gradient.dtype == torch.float32  # loss, gradient and updates stay fp32
            outputs.append((denoised.detach(), gradient))
        (d_ref, g_ref), (d_fast, g_fast) = outputs
        assert (d_fast - d_ref).abs().max() <= max_change
        assert torch.nn.functional.cosine_similarity(g_fast.flatten(), g_ref.flatten(), dim=0) >= least_cosine
    change = psnr(restore(fast, op, y), truth) - psnr(restore(reference, op, y), truth)
    assert change.abs().max() <= max_psnr_change


def test_compile_serves_every_noise_level_with_one_graph(monkeypatch):
    monkeypatch.setattr(speed, "COMPILE_BACKEND", "aot_eager")
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    prior = with_speed_modes(EDMUNetPrior(), {"compile": True})
    x = torch.zeros(4, 3, 32, 32)
    for sigma in (80.0, 3.0, 0.2, 0.002):  # a float constant in the graph would recompile at every step
        prior.denoise(x, sigma)
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == 1


def test_default_modes_leave_the_prior_as_it_is():
    prior = EDMUNetPrior()
    assert with_speed_modes(prior) is prior and with_speed_modes(prior, {"precision": "fp32"}) is prior
    with pytest.raises(ValueError, match="precision must be one of \\('fp32', 'bf16'\\), got 'fp16'"):
        SpeedModes(precision="fp16")
    with pytest.raises(ValueError, match="compile: the GaussianMixture prior has no network to compile"):
        from spgd.priors import smooth_mixture

        with_speed_modes(smooth_mixture(), {"compile": True})
