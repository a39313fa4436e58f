"""Batches inside a shard: outputs independent of the batch size, bit for bit, and the back-off
when a device runs out of memory (spgd.samplers.batching, spgd.pipeline.steps.restore_shard)."""

import io

import pandas as pd
import pytest
import torch

from spgd.demo.photos import held_out_views
from spgd.operators import make_operator
from spgd.pipeline.config import SamplerSpec
from spgd.pipeline.steps import restore_shard
from spgd.priors import ADMPrior
from spgd.samplers import SPGD, make_sampler
from spgd.samplers.batching import sample_in_batches

# few steps of each algorithm: every code path a batch could disturb, at a test's cost
SAMPLERS = [SamplerSpec("spgd_adm", "spgd_adm", dict(steps=3, warmup=2, lr=0.5)),
            SamplerSpec("dps", "dps", dict(steps=4, zeta=1.0)),
            SamplerSpec("dps_gm", "dps_gm", dict(steps=2, warmup=2, zeta=1.0)),
            SamplerSpec("daps", "daps", dict(steps=2, ode_steps=2, langevin_steps=3, lr=1e-4))]
IDS = ["a", "b", "c", "d", "e"]  # 5 images: batches of 2 and 4 leave a partial last batch


def demo_shard(task):
    images, _ = held_out_views(len(IDS), 32)
    op = make_operator(task, 32, IDS, 0, channels=3)
    with torch.no_grad():
        return op.measure(images)


def test_batch_size_changes_no_restoration_of_the_demo_prior():
    task = "phase_retrieval"  # nonlinear, through FFTs: the operator's arithmetic is batched too
    y = demo_shard(task)
    for sampler in SAMPLERS:
        outputs = {}
        for batch_size in (1, 2, "auto"):  # 2: a partial last batch; auto: the whole shard
            outputs[batch_size] = restore_shard({"type": "edm_unet"}, sampler, task, {}, IDS, y, 32, 3, seed=0,
                                                trace=True, repeats=2, batch_size=batch_size)
        restored, stats, trace = outputs["auto"]
        assert stats["batch_size"] == [5, 5]  # auto on the CPU: the whole shard
        assert torch.isfinite(restored).all()
        for batch_size, (other, other_stats, other_trace) in outputs.items():
            assert torch.equal(other, restored), (sampler.name, batch_size)
            assert pd.DataFrame(other_trace).equals(pd.DataFrame(trace)), (sampler.name, batch_size)  # NaN == NaN
            assert other_stats["batch_size"] == [min(batch_size, 5) if batch_size != "auto" else 5] * 2


def test_out_of_memory_halves_the_batch_and_changes_nothing(monkeypatch):
    y = demo_shard("sr4")
    sampler = SAMPLERS[0]
    expected, _, expected_trace = restore_shard({"type": "edm_unet"}, sampler, "sr4", {}, IDS, y, 32, 3, seed=0,
                                                trace=True, repeats=2, batch_size=1)
    sample, calls = SPGD.sample, []

    def fails_above_two(self, operator, y, seeds, **kwargs):
        calls.append(len(seeds))
        if len(seeds) > 2:
            raise torch.OutOfMemoryError("CUDA out of memory (injected)")
        return sample(self, operator, y, seeds, **kwargs)

    monkeypatch.setattr(SPGD, "sample", fails_above_two)
    log = io.StringIO()
    restored, stats, trace = restore_shard({"type": "edm_unet"}, sampler, "sr4", {}, IDS, y, 32, 3, seed=0,
                                           trace=True, repeats=2, batch_size=5, progress_file=log)
    assert torch.equal(restored, expected) and pd.DataFrame(trace).equals(pd.DataFrame(expected_trace))
    assert stats["batch_size"] == [2, 2]
    assert calls == [5, 2, 2, 1, 2, 2, 1]  # 5 fails; then 2, 2, 1 (the rest) in repeat 0, the same in repeat 1
    assert "out of memory at a batch of 5 images; running batches of 2 from image 0" in log.getvalue()
    monkeypatch.setattr(SPGD, "sample", lambda *a, **k: (_ for _ in ()).throw(torch.OutOfMemoryError("injected")))
    with pytest.raises(torch.OutOfMemoryError):  # one image that does not fit is the job's error
        restore_shard({"type": "edm_unet"}, sampler, "sr4", {}, IDS[:1], y[:1], 32, 3, seed=0, batch_size=1)


def test_batch_size_changes_no_restoration_of_a_guided_diffusion_unet():
    torch.manual_seed(0)
    prior = ADMPrior.untrained("ffhq")
    for parameter in prior.parameters():  # the zero-initialised output layers would make D(x) = x
        if not parameter.any():
            parameter.normal_(0, 0.02)
    ids = list(range(3))
    # 32 px, the smallest side the UNet takes: the batch's arithmetic is the same at any size
    operator_for = lambda positions: make_operator("sr4", 32, [ids[p] for p in positions], 0, channels=3)
    y = operator_for(ids).measure(torch.rand(3, 3, 32, 32) * 2 - 1)
    sampler = make_sampler("spgd", prior, steps=1, warmup=2)
    whole, used = sample_in_batches(sampler, operator_for, y, [7, 8, 9], 3)
    single, _ = sample_in_batches(sampler, operator_for, y, [7, 8, 9], 1)
    assert used == 3 and torch.equal(whole.x, single.x)
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        sample_in_batches(sampler, operator_for, y, [7, 8, 9], 0)
