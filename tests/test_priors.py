import math

import pytest
import torch

from spgd.checkpoints import CheckpointError, sha256_of
from spgd.operators import make_operator
from spgd.priors import ADMPrior, GaussianMixture, build_unet, operator_matrix
from spgd.schedule import vp_time


def brute_force_denoiser(gmm: GaussianMixture, x: torch.Tensor, sigma: float) -> torch.Tensor:
    """E[x0 | x] with explicit inverses and densities, one image at a time."""
    out = []
    for v in x.reshape(x.shape[0], -1).double():
        logs, means = [], []
        for w, mu, cov in zip(gmm.weights, gmm.means, gmm.covariances):
            total = cov + sigma**2 * torch.eye(len(mu), dtype=torch.float64)
            logs.append(math.log(w) + torch.distributions.MultivariateNormal(mu, total).log_prob(v))
            means.append(mu + cov @ torch.linalg.solve(total, v - mu))
        r = torch.softmax(torch.stack(logs), 0)
        out.append((r[:, None] * torch.stack(means)).sum(0))
    return torch.stack(out).reshape(x.shape)


@pytest.mark.parametrize("sigma", [0.01, 0.3, 5.0, 80.0])
def test_gmm_denoiser_is_exact(gmm, sigma):
    noise = torch.randn(4, *gmm.shape, generator=torch.Generator().manual_seed(1))
    x = gmm.sample(4, torch.Generator().manual_seed(0)) + sigma * noise
    # tolerance: the prior computes in float32 (outputs of order 1, rounding ~1e-7 per operation, a few hundred
    # operations); the reference in float64; 1e-5 allows that accumulation, not a wrong formula (errors of order 1e-2
    # and up)
    assert torch.allclose(gmm.denoise(x, sigma).double(), brute_force_denoiser(gmm, x, sigma), atol=1e-5)


def test_gmm_posterior_matches_bayes_rule(gmm):
    op = make_operator("random_inpainting", 8, [0], channels=1, noise_sigma=0.1)
    a = operator_matrix(op, gmm.shape)
    y = op.measure(gmm.sample(1, torch.Generator().manual_seed(2)))
    post = gmm.posterior(a, y, 0.1)
    # unnormalised log posterior difference between two points equals the mixture's
    points = gmm.sample(2, torch.Generator().manual_seed(3)).reshape(2, -1).double()

    def log_density(mixture, v):
        return torch.logsumexp(torch.stack([
            math.log(w) + torch.distributions.MultivariateNormal(m, c + 1e-9 * torch.eye(len(m), dtype=torch.float64)).log_prob(v)
            for w, m, c in zip(mixture.weights, mixture.means, mixture.covariances)
        ]), 0)

    def log_unnormalised(v):
        residual = y.reshape(-1).double() - a.double() @ v
        return log_density(gmm, v) - 0.5 * residual.square().sum() / 0.1**2

    lhs = log_density(post, points[0]) - log_density(post, points[1])
    rhs = log_unnormalised(points[0]) - log_unnormalised(points[1])
    # tolerance: float64 log densities of magnitude ~1e3 with a 1e-9 jitter added to singular covariances: the jitter
    # moves them by ~1e-6 relative; 1e-4 is 100x that
    assert lhs.item() == pytest.approx(rhs.item(), rel=1e-4, abs=1e-4)


def test_gmm_sampling_matches_moments(gmm):
    draws = gmm.sample(20000, torch.Generator().manual_seed(0)).reshape(20000, -1).double()
    # tolerance: Monte Carlo: 20,000 draws of unit-scale pixels give a standard error near 0.007; 0.02 is about 3 of
    # them
    assert torch.allclose(draws.mean(0), gmm.mean(), atol=0.02)
    # tolerance: Monte Carlo: a covariance entry's standard error is about sqrt(2 / 20000) = 0.01 at unit variance and
    # smaller for the smaller entries of this prior
    assert torch.allclose(torch.cov(draws.T), gmm.covariance(), atol=0.01)


def test_gmm_rejects_inconsistent_shapes():
    with pytest.raises(ValueError, match="expected means"):
        GaussianMixture([1.0], torch.zeros(1, 3), torch.eye(4)[None], (1, 2, 2))


@pytest.fixture(scope="module")
def random_ffhq_checkpoint(tmp_path_factory):
    """A randomly initialised guided-diffusion FFHQ UNet saved in the raw checkpoint key format."""
    torch.manual_seed(0)
    unet = build_unet("ffhq")
    state = {k: v for k, v in unet.state_dict().items() if "alphas_cumprod" not in k}
    path = tmp_path_factory.mktemp("adm") / "ffhq_10m_random_init.pt"
    torch.save(state, path)
    return path


def test_adm_checkpoint_loads_strictly_and_is_frozen(random_ffhq_checkpoint):
    prior = ADMPrior(str(random_ffhq_checkpoint), "ffhq", sha256=sha256_of(random_ffhq_checkpoint))
    # tolerance: 93.6 M is the published count rounded to 0.1 M; rel 1e-3 is that rounding
    assert sum(p.numel() for p in prior.unet.parameters()) == pytest.approx(93.6e6, rel=1e-3)
    assert not any(p.requires_grad for p in prior.parameters())
    saved = torch.load(random_ffhq_checkpoint, weights_only=True)
    key = "input_blocks.0.0.weight"
    assert torch.equal(prior.unet.state_dict()[key], saved[key])


def test_adm_vp_preconditioning(random_ffhq_checkpoint):
    prior = ADMPrior(str(random_ffhq_checkpoint), "ffhq")
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    sigma = 2.5
    c_noise = 999 * vp_time(sigma).item()
    with torch.no_grad():
        eps = prior.unet.forward_diffusion(x / math.sqrt(1 + sigma**2), torch.full((2,), c_noise))[:, :3]
        expected = x - sigma * eps
        # tolerance: the same network call in float32 with the input scaled once here and once in the prior (one
        # rounding, ~1e-7), amplified by a random UNet's gain (~10) and sigma 2.5; 1e-5 leaves 4x
        assert torch.allclose(prior.denoise(x, sigma), expected, atol=1e-5)
        x0, variance = prior.ddpm_x0(x, 500, 0.1)
        eps500 = prior.unet.forward_diffusion(x, torch.full((2,), 500.0))
        # tolerance: float32 formula evaluated in another order, divided by sqrt(0.1): rounding of ~3e-7; 1e-5 is 30x
        assert torch.allclose(x0, (x - math.sqrt(0.9) * eps500[:, :3]) / math.sqrt(0.1), atol=1e-5)
        assert torch.equal(variance, eps500[:, 3:])


def test_adm_gradient_reaches_the_input_not_the_weights(random_ffhq_checkpoint):
    prior = ADMPrior(str(random_ffhq_checkpoint), "ffhq")
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    prior.denoise(x, 1.0).square().sum().backward()
    assert x.grad is not None and all(p.grad is None for p in prior.parameters())


def test_adm_failures_name_the_file_and_problem(tmp_path, random_ffhq_checkpoint):
    with pytest.raises(CheckpointError, match=r"ffhq_10m.pt does not exist \(DPS"):
        ADMPrior(str(tmp_path / "ffhq_10m.pt"), "ffhq")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(random_ffhq_checkpoint.read_bytes()[: 1 << 20])
    with pytest.raises(CheckpointError, match="cannot read .*truncated.pt"):
        ADMPrior(str(truncated), "ffhq")
    state = torch.load(random_ffhq_checkpoint, weights_only=True)
    state["out.2.weight"] = state["out.2.weight"][:3]
    wrong = tmp_path / "wrong_shape.pt"
    torch.save(state, wrong)
    with pytest.raises(CheckpointError, match=r"wrong_shape.pt does not match .*out.2.weight"):
        ADMPrior(str(wrong), "ffhq")
    with pytest.raises(CheckpointError, match="has sha256"):
        ADMPrior(str(random_ffhq_checkpoint), "ffhq", sha256="0" * 64)
    with pytest.raises(CheckpointError, match="missing keys"):
        ADMPrior(str(random_ffhq_checkpoint), "imagenet")
