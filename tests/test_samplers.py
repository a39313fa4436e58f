"""Samplers against closed-form answers: a Gaussian-mixture prior with an exact denoiser.

Each accuracy check is paired with a deliberately broken sampler (skipped noise, flipped sign,
a lost factor 2) that must fail the same check, so the tolerances are known to bite.
"""

import math

import pytest
import torch

import spgd.samplers.gradient_management as gradient_management
import spgd.samplers.spgd as spgd_module
from spgd.exactness import moments_error, residual_ratio
from spgd.operators import make_operator
from spgd.priors import operator_matrix
from spgd.samplers import DPS, DPSGM, SPGD, make_sampler
from spgd.seeding import NoiseStreams

N = 512  # samples per distribution check
SIDE = 8


def prior_samples(gmm, sampler):
    op = make_operator("hdr", SIDE, list(range(N)), channels=1)  # y = 0 and lr/zeta 0: no likelihood
    return sampler.sample(op, torch.zeros(N, 1, SIDE, SIDE), list(range(N))).x


def blur_problem(gmm, n=N):
    opts = dict(channels=1, shared=True, noise_sigma=0.05, kernel_size=5, std=1.0)
    single = make_operator("gaussian_blur", SIDE, [0], seed=3, **opts)
    y = single.measure(gmm.sample(1, torch.Generator().manual_seed(1)))
    posterior = gmm.posterior(operator_matrix(single, gmm.shape), y, 0.05)
    op = make_operator("gaussian_blur", SIDE, list(range(n)), seed=3, **opts)
    return op, y.expand(n, *y.shape[1:]).contiguous(), posterior


def posterior_check(gmm, sampler):
    """(mean error, std ratio, residual ratio to the noise level) of a sampler's posterior draws."""
    op, y, posterior = blur_problem(gmm)
    x = sampler.sample(op, y, list(range(N))).x
    return (*moments_error(x, posterior), residual_ratio(x, y, op, 0.05))


@pytest.fixture
def skipped_noise(monkeypatch):
    """Every noise draw after the initial state returns zeros."""
    original = NoiseStreams.next

    def first_only(self, shape):
        self.calls = getattr(self, "calls", 0) + 1
        draw = original(self, shape)
        return draw if self.calls == 1 else torch.zeros_like(draw)

    monkeypatch.setattr(NoiseStreams, "next", first_only)


def prior_ok(mean_error, std_ratio):
    return mean_error < 0.12 and 0.9 < std_ratio < 1.1


# --- unconditional: with the likelihood switched off the samplers must reproduce the prior ---

def dps_unguided(gmm):
    return make_sampler("dps", gmm, steps=1000, zeta=0.0, clip_x0=False)


def spgd_unguided(gmm):
    return make_sampler("spgd", gmm, steps=100, warmup=1, lr=1e-12)


def test_dps_without_guidance_is_exact_ddpm(gmm):
    assert prior_ok(*moments_error(prior_samples(gmm, dps_unguided(gmm)), gmm))


def test_dps_check_fails_without_noise_injection(gmm, skipped_noise):
    assert not prior_ok(*moments_error(prior_samples(gmm, dps_unguided(gmm)), gmm))


def test_spgd_without_likelihood_is_the_probability_flow_ode(gmm):
    assert prior_ok(*moments_error(prior_samples(gmm, spgd_unguided(gmm)), gmm))


def test_spgd_check_fails_with_half_euler_factor(gmm, monkeypatch):
    halved = lambda sigmas, f=spgd_module.euler_factors: f(sigmas) / 2
    monkeypatch.setattr(spgd_module, "euler_factors", halved)
    assert not prior_ok(*moments_error(prior_samples(gmm, spgd_unguided(gmm)), gmm))


# --- posterior: Gaussian blur of a mixture, exact posterior known ---

def daps_ok(mean_error, std_ratio, residual):
    # exact posterior draws give (0.04, 0.99, 1.02) here
    return mean_error < 0.2 and 0.85 < std_ratio < 1.1 and 0.97 < residual < 1.07


def daps(gmm):
    return make_sampler("daps", gmm, steps=100, langevin_steps=50, lr=1e-4)


def test_daps_matches_the_exact_posterior(gmm):
    assert daps_ok(*posterior_check(gmm, daps(gmm)))


def test_daps_check_fails_with_a_factor_two_in_the_data_term(gmm):
    sampler = daps(gmm)
    sampler.tau /= math.sqrt(2)  # ||A x - y||^2 / tau^2 instead of / (2 tau^2)
    assert not daps_ok(*posterior_check(gmm, sampler))


def test_daps_check_fails_without_renoising(gmm, skipped_noise):
    assert not daps_ok(*posterior_check(gmm, daps(gmm)))


def dps_ok(mean_error, std_ratio, residual):
    # DPS is a biased approximation: under-dispersed and over-fitting the data (known behaviour)
    return mean_error < 0.8 and 0.6 < std_ratio < 1.0 and 0.6 < residual < 1.1


def dps(gmm, zeta=0.5):
    return make_sampler("dps", gmm, steps=1000, zeta=zeta, clip_x0=False)


def test_dps_approximates_the_posterior(gmm):
    assert dps_ok(*posterior_check(gmm, dps(gmm)))


def test_dps_check_fails_with_flipped_gradient_sign(gmm):
    sampler = dps(gmm)
    sampler.zeta = -sampler.zeta
    assert not dps_ok(*posterior_check(gmm, sampler))


def dps_gm(gmm, **settings):
    # 100 steps of 5 iterations: the cost of DPS with 500 steps
    return make_sampler("dps_gm", gmm, **{"steps": 100, "warmup": 5, "zeta": 0.5, "clip_x0": False, **settings})


@pytest.mark.parametrize("adm", ["applied", "off"])
def test_dps_gm_approximates_the_posterior_like_dps(gmm, adm):
    assert dps_ok(*posterior_check(gmm, dps_gm(gmm, adm=adm)))


def test_dps_gm_check_fails_with_flipped_momentum_sign(gmm, monkeypatch):
    momentum = gradient_management.adm_momentum
    monkeypatch.setattr(gradient_management, "adm_momentum", lambda m, g, beta: -momentum(m, g, beta))
    assert not dps_ok(*posterior_check(gmm, dps_gm(gmm, adm="applied")))


def test_spgd_reaches_measurement_consistency(gmm):
    mean_error, _, residual = posterior_check(gmm, make_sampler("spgd", gmm, steps=100, warmup=5, lr=1.0))
    assert 0.95 < residual < 1.1 and mean_error < 0.35
    sampler = make_sampler("spgd", gmm, steps=100, warmup=5, lr=1.0)
    sampler.lr = -1.0
    flipped = posterior_check(gmm, sampler)
    assert not (0.95 < flipped[2] < 1.1)


# --- SPGD configurations ---

def small_problem(gmm, n=3, seed=0):
    op = make_operator("random_inpainting", SIDE, list(range(n)), seed=seed, channels=1, noise_sigma=0.05)
    x = gmm.sample(n, torch.Generator().manual_seed(seed))
    return op, op.measure(x)


def run(sampler, op, y, seeds=None, **kwargs):
    return sampler.sample(op, y, seeds if seeds is not None else list(range(100, 100 + y.shape[0])), **kwargs)


def test_released_adm_equals_off_and_differs_from_applied(gmm):
    op, y = small_problem(gmm)
    kwargs = dict(steps=20, warmup=5, lr=1.0)
    released = run(make_sampler("spgd", gmm, **kwargs), op, y).x
    off = run(make_sampler("spgd_no_adm", gmm, **kwargs), op, y).x
    applied = run(make_sampler("spgd_adm", gmm, **kwargs), op, y).x
    assert torch.equal(released, off)
    assert (applied - released).abs().max() > 1e-3
    beta_zero = run(SPGD(gmm, adm="applied", beta=0.0, **kwargs), op, y).x
    assert torch.equal(beta_zero, off)  # beta 0: m = 0 * m + 1 * g is g exactly, so the same steps


def rows_without_nan(trace, ids):
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()} for r in trace.rows(ids)]


def test_dps_gm_with_one_iteration_and_no_momentum_is_dps(gmm):
    op, y = small_problem(gmm)
    plain = run(make_sampler("dps", gmm, steps=40, zeta=0.5), op, y, trace=True)
    one = run(make_sampler("dps_gm", gmm, steps=40, zeta=0.5, warmup=1, adm="off"), op, y, trace=True)
    assert torch.equal(plain.x, one.x) and (plain.nfe_forward, plain.nfe_backward) == (one.nfe_forward, one.nfe_backward)
    assert rows_without_nan(plain.trace, op.image_ids) == rows_without_nan(one.trace, op.image_ids)
    # momentum, more iterations or a decaying zeta each change the images
    for settings in (dict(warmup=2, adm="off"), dict(warmup=2, adm="applied"), dict(warmup=1, lr_min_ratio=0.5)):
        other = run(make_sampler("dps_gm", gmm, steps=40, zeta=0.5, **{"adm": "off", **settings}), op, y)
        assert (other.x - plain.x).abs().max() > 1e-4, settings
    assert not torch.equal(run(make_sampler("dps_gm", gmm, steps=40, zeta=0.5, warmup=2, adm="off"), op, y).x,
                           run(make_sampler("dps_gm", gmm, steps=40, zeta=0.5, warmup=2, adm="applied"), op, y).x)


def test_dps_gm_equals_dps_with_a_learned_variance():
    """The ADM checkpoints predict a variance (DPS's other branch): there too N = 1 is DPS."""
    from spgd.priors import ADMPrior

    prior = ADMPrior.untrained("ffhq")
    op = make_operator("sr4", 32, ["a", "b"], seed=0, noise_sigma=0.05)
    y = op.measure(torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1)
    plain = run(DPS(prior, steps=4, zeta=0.3), op, y)
    assert torch.equal(plain.x, run(DPSGM(prior, steps=4, zeta=0.3, warmup=1, adm="off"), op, y).x)


def test_no_warmup_variant_is_warmup_one(gmm):
    sampler = make_sampler("spgd_no_warmup", gmm, steps=10)
    assert isinstance(sampler, SPGD) and sampler.warmup == 1
    op, y = small_problem(gmm)
    assert torch.equal(run(sampler, op, y).x, run(SPGD(gmm, steps=10, warmup=1), op, y).x)
    with pytest.raises(ValueError, match="fixes"):
        make_sampler("spgd_no_warmup", gmm, warmup=5)
    with pytest.raises(ValueError, match="unknown sampler"):
        make_sampler("ddrm", gmm)


def test_nfe_counts(gmm):
    op, y = small_problem(gmm)
    r = run(SPGD(gmm, steps=7, warmup=3), op, y)
    assert (r.nfe_forward, r.nfe_backward) == (21, 21)
    r = run(SPGD(gmm, steps=7, warmup=3, recompute_x0=True), op, y)
    assert (r.nfe_forward, r.nfe_backward) == (28, 21)
    r = run(make_sampler("dps", gmm, steps=25), op, y)
    assert (r.nfe_forward, r.nfe_backward) == (25, 25)
    sampler = make_sampler("dps_gm", gmm, steps=5, warmup=5)
    r = run(sampler, op, y)
    assert (r.nfe_forward, r.nfe_backward) == (25, 25) == sampler.planned_nfe
    r = run(make_sampler("daps", gmm, steps=6, ode_steps=5, langevin_steps=3), op, y)
    assert (r.nfe_forward, r.nfe_backward) == (30, 0)



@pytest.mark.parametrize("name", ["spgd", "dps", "dps_gm", "daps"])
def test_one_step_evaluates_the_prior_as_planned(gmm, name):
    op, y = small_problem(gmm)
    sampler = make_sampler(name, gmm, steps=1)
    r = run(sampler, op, y)
    assert (r.nfe_forward, r.nfe_backward) == sampler.planned_nfe and r.nfe_forward >= 1
    assert torch.isfinite(r.x).all()


SAMPLER_SETTINGS = {
    "spgd": dict(steps=10, warmup=2),
    "spgd_adm": dict(steps=10, warmup=3),
    "dps": dict(steps=20),
    "dps_gm": dict(steps=10, warmup=3),
    "daps": dict(steps=5, langevin_steps=5),
}


@pytest.mark.parametrize("name", SAMPLER_SETTINGS)
def test_batch_composition_does_not_change_outputs(gmm, name):
    sampler = make_sampler(name, gmm, **SAMPLER_SETTINGS[name])
    op, y = small_problem(gmm, n=4)
    seeds = [11, 12, 13, 14]
    batched = run(sampler, op, y, seeds).x
    again = run(sampler, op, y, seeds).x
    assert torch.equal(batched, again)
    for b in range(4):
        single_op = make_operator("random_inpainting", SIDE, [b], seed=0, channels=1, noise_sigma=0.05)
        assert torch.equal(single_op.params[0], op.params[b])
        single = run(sampler, single_op, y[b : b + 1], [seeds[b]]).x
        # tolerance: float32 prior maths of another batch shape may sum in another order (last bits, ~1e-7 of values
        # in [-1, 1]), which the steps carry; 1e-5 is 100x that. Bit-identity across batch sizes is issue 27's
        assert torch.allclose(single[0], batched[b], atol=1e-5)
    other_seeds = run(sampler, op, y, [21, 22, 23, 24]).x
    # tolerance: other sampler noise moves the restorations by order 0.1, far beyond allclose's defaults
    assert not torch.allclose(other_seeds, batched)


@pytest.mark.parametrize("name", SAMPLER_SETTINGS)
def test_divergence_is_flagged_per_image(gmm, name):
    sampler = make_sampler(name, gmm, **SAMPLER_SETTINGS[name])
    op, y = small_problem(gmm, n=2)
    poisoned = y.clone()
    poisoned[0, 0, 0, 0] = math.inf  # image 0 cannot be restored; image 1 must not notice
    result = run(sampler, op, poisoned, [5, 6])
    assert result.diverged.tolist() == [True, False]
    assert result.diverged_step[0].item() == 0
    assert torch.isnan(result.x[0]).all() and torch.isfinite(result.x[1]).all()
    clean = run(sampler, op, y, [5, 6])
    # tolerance: as above: a batch of other values may round the shared sums differently; 1e-5 is 100x float32's last
    # bits
    assert torch.allclose(result.x[1], clean.x[1], atol=1e-5)


@pytest.mark.parametrize("name", SAMPLER_SETTINGS)
def test_trace_records_loss_and_three_angles(gmm, name):
    sampler = make_sampler(name, gmm, **SAMPLER_SETTINGS[name])
    op, y = small_problem(gmm, n=2)
    result = run(sampler, op, y, trace=True)
    rows = result.trace.rows(op.image_ids)
    steps = [r for r in rows if r["level"] == "step"]
    assert len(steps) == 2 * sampler.steps
    assert math.isnan(steps[0]["angle_likelihood_consecutive"])
    for r in steps[2:]:
        for key in ("angle_prior_likelihood", "angle_likelihood_consecutive", "angle_prior_consecutive"):
            assert 0 <= r[key] <= 180
        assert r["loss"] >= 0
    if name.startswith("spgd") or name == "dps_gm":
        assert len([r for r in rows if r["level"] == "warmup"]) == 2 * sampler.steps * sampler.warmup
    untraced = run(sampler, op, y)
    assert untraced.trace is None and torch.equal(untraced.x, result.x)


def test_bad_sampler_settings_are_named(gmm):
    with pytest.raises(ValueError, match="adm must be one of"):
        SPGD(gmm, adm="on")
    with pytest.raises(ValueError, match="lr must be a positive"):
        SPGD(gmm, lr=-1)
    with pytest.raises(ValueError, match="steps must be in"):
        make_sampler("dps", gmm, steps=0)
    with pytest.raises(ValueError, match="dps_gm: warmup must be >= 1"):
        make_sampler("dps_gm", gmm, warmup=0)
    with pytest.raises(ValueError, match="dps_gm: adm must be one of"):
        make_sampler("dps_gm", gmm, adm="on")
    with pytest.raises(ValueError, match="batch mismatch"):
        op, y = small_problem(gmm, n=2)
        SPGD(gmm).sample(op, y, [1, 2, 3])


def test_trace_angles_follow_the_definition():
    from spgd.samplers import AngleTrace, angle_degrees

    trace = AngleTrace()
    e1, e2 = torch.zeros(2, 1, 2, 2), torch.zeros(2, 1, 2, 2)
    e1[:, 0, 0, 0], e2[:, 0, 0, 1] = 1.0, 3.0
    trace.record("step", 0, -1, 1.0, torch.zeros(2), e1, e2)  # orthogonal: 90
    trace.record("step", 1, -1, 0.5, torch.zeros(2), e1, -e2)  # g_l reversed: 180, g_d same: 0
    rows = trace.rows(["a", "b"])
    assert [r["angle_prior_likelihood"] for r in rows] == pytest.approx([90.0] * 4)
    assert rows[2]["angle_likelihood_consecutive"] == pytest.approx(180.0)
    # tolerance: one-hot vectors: the dot product and norms are exact, the cosine 1 exactly; abs only because
    # approx(0) needs one
    assert rows[2]["angle_prior_consecutive"] == pytest.approx(0.0, abs=1e-3)
    generator = torch.Generator().manual_seed(0)
    a, b = torch.randn(3, 3, 4, 4, generator=generator), torch.randn(3, 3, 4, 4, generator=generator)
    other = AngleTrace()
    other.record("step", 0, -1, 1.0, torch.zeros(3), a, b)
    # tolerance: random 48-dim vectors sit near 90 degrees, where arccos is well conditioned: float32 cosines off by a
    # few eps32 (1e-7) move the angle by ~1e-5 degrees; 1e-3 degrees is 100x that
    assert [r["angle_prior_likelihood"] for r in other.rows()] == pytest.approx(angle_degrees(a, b).tolist(), abs=1e-3)
    independent = torch.rad2deg(torch.arccos(torch.nn.functional.cosine_similarity(a.flatten(1), b.flatten(1))))
    # tolerance: as above, against torch's own cosine similarity
    assert [r["angle_prior_likelihood"] for r in other.rows()] == pytest.approx(independent.tolist(), abs=1e-3)


def test_adm_momentum_matches_values_worked_by_hand():
    """docs/method.md, SPGD: alpha = (mean over pixels of the channel-axis cosine + 1) / 2 per image,
    m <- alpha beta m + (1 - alpha beta) g. Two channels, two pixels, values worked by hand."""
    from spgd.samplers.gradient_management import adm_momentum

    g = torch.zeros(3, 2, 1, 2)
    g[:, 0] = 1.0  # every pixel's gradient points along channel 0
    m = torch.zeros(3, 2, 1, 2)
    m[0, 0, 0, 0], m[0, 1, 0, 1] = 1.0, 1.0  # image 0: cosines 1 and 0, mean 0.5, alpha 0.75, alpha beta 0.675
    m[1, 0] = 2.0  # image 1: aligned, cosine 1 (length does not count), alpha 1, alpha beta 0.9
    m[2, 0] = -1.0  # image 2: opposed, cosine -1, alpha 0: the momentum is the new gradient
    expected = torch.zeros(3, 2, 1, 2)
    expected[0, 0, 0, 0] = 0.675 * 1 + 0.325 * 1  # 1.0
    expected[0, 0, 0, 1], expected[0, 1, 0, 1] = 0.325 * 1, 0.675 * 1
    expected[1, 0] = 0.9 * 2 + 0.1 * 1  # 1.9
    expected[2, 0] = 1.0
    # tolerance: float32 rounding of products of order 1 (~1e-7); 1e-6 is 10x, far below the 0.1 steps of a wrong alpha
    assert torch.allclose(adm_momentum(m, g, 0.9), expected, atol=1e-6)
    assert torch.equal(adm_momentum(m, g, 0.0), g)


@pytest.mark.parametrize("name", SAMPLER_SETTINGS)
def test_progress_is_reported_once_per_step(gmm, name):
    sampler = make_sampler(name, gmm, **SAMPLER_SETTINGS[name])
    op, y = small_problem(gmm, n=1)
    ticks = []
    run(sampler, op, y, progress=ticks.append)
    assert sum(ticks) == sampler.total_steps
