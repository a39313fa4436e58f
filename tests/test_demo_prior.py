"""The learned demo prior: shipped file, strict loading, real denoising, reproducible training."""

import pytest
import torch

from spgd.demo.baselines import bicubic_upsample, masked_neighbour_fill
from spgd.checkpoints import CheckpointError, sha256_of
from spgd.metrics import psnr
from spgd.operators import make_operator
from spgd.demo.photos import HELD_OUT, MIN_VIEW_STD, PHOTOS, TRAINING, CropSampler, held_out_views
from spgd.priors import make_prior
from spgd.priors.unet import DEMO_CHECKPOINT, DEMO_SHA256, EDMDenoiser, EDMUNetPrior
from spgd.demo.training import denoising_psnr, train_demo_prior


@pytest.fixture(scope="module")
def prior():
    return make_prior({"type": "edm_unet"})


def test_shipped_checkpoint_is_small_and_matches_its_recorded_hash():
    assert DEMO_CHECKPOINT.stat().st_size <= 20 * 2**20
    assert sha256_of(DEMO_CHECKPOINT) == DEMO_SHA256
    card = (DEMO_CHECKPOINT.parent / "MODEL_CARD.md").read_text()
    assert DEMO_SHA256 in card and "Held out" in card


def test_held_out_photos_are_never_training_photos():
    assert set(HELD_OUT).isdisjoint(TRAINING) and set(HELD_OUT) | set(TRAINING) == set(PHOTOS)
    images, manifest = held_out_views(6, 32)
    assert images.shape == (6, 3, 32, 32) and images.min() >= -1 and images.max() <= 1
    assert [m["id"].rsplit("_", 1)[0] for m in manifest] == [*HELD_OUT, *HELD_OUT[:2]]
    assert (images.mean(1).flatten(1).std(1) >= MIN_VIEW_STD).all()  # no flat views
    assert torch.equal(held_out_views(2, 32)[0], images[:2])  # view i does not depend on the count
    with pytest.raises(ValueError, match="image_size must be between 8 and 150"):
        held_out_views(1, 256)


@pytest.mark.parametrize("sigma", [0.05, 0.2, 0.5])
def test_denoiser_restores_held_out_crops_far_better_than_the_noisy_input(prior, sigma):
    crops = CropSampler(HELD_OUT, 32, seed=3).batch(16)
    noisy_psnr = -20 * torch.log10(torch.tensor(sigma)).item()  # PSNR of the noisy input itself
    assert denoising_psnr(prior.model, crops, sigma) > noisy_psnr + 3


def test_an_untrained_network_fails_the_same_check():
    crops = CropSampler(HELD_OUT, 32, seed=3).batch(16)
    untrained = EDMDenoiser()
    for p in untrained.net.head.parameters():  # the zero-initialised head would give D = c_skip x
        torch.nn.init.normal_(p, std=0.5)
    assert denoising_psnr(untrained, crops, 0.2) < -20 * torch.log10(torch.tensor(0.2)).item() + 3


def test_loading_is_strict_and_names_the_file(tmp_path):
    wrong = tmp_path / "other.pt"
    torch.save(EDMDenoiser(channels=(8, 16, 32)).state_dict(), wrong)
    with pytest.raises(CheckpointError, match="other.pt does not match the architecture"):
        EDMUNetPrior(wrong)
    with pytest.raises(CheckpointError, match="has sha256"):
        EDMUNetPrior(DEMO_CHECKPOINT, sha256="0" * 64)
    with pytest.raises(CheckpointError, match="does not exist"):
        EDMUNetPrior(tmp_path / "missing.pt")


def test_training_is_reproducible_from_the_seed():
    quiet = lambda message: None
    first, record = train_demo_prior(seed=5, steps=12, batch=4, warmup=4, log=quiet)
    second, again = train_demo_prior(seed=5, steps=12, batch=4, warmup=4, log=quiet)
    other, different = train_demo_prior(seed=6, steps=12, batch=4, warmup=4, log=quiet)
    assert record["state_sha256"] == again["state_sha256"] != different["state_sha256"]
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert set(record["training_photos"]) == set(TRAINING)


def test_baselines_keep_what_was_observed():
    generator = torch.Generator().manual_seed(0)
    y = torch.rand(2, 3, 16, 16, generator=generator) * 2 - 1
    mask = (torch.rand(2, 1, 16, 16, generator=generator) > 0.8).float()
    filled = masked_neighbour_fill(y * mask, mask)
    assert torch.equal(filled[mask.expand_as(y).bool()], (y * mask)[mask.expand_as(y).bool()])
    assert torch.isfinite(filled).all()
    smooth = torch.linspace(-0.8, 0.8, 32).repeat(1, 3, 32, 1)
    sr4 = make_operator("sr4", 32, ["ramp"], 0, channels=3)
    up = bicubic_upsample(sr4(smooth), 4)
    assert up.shape == smooth.shape and psnr(up, smooth).item() > 40  # a ramp is what bicubic restores
    assert psnr(bicubic_upsample(smooth[..., ::4, ::4], 4), smooth).item() < 30  # misaligned sampling is caught
