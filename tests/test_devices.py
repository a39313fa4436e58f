"""Device choice of the sample jobs: several GPUs on one node without Slurm."""

import multiprocessing

import pytest
import torch

from spgd import devices
from spgd.devices import claim_gpu, claimed_device


def test_concurrent_jobs_claim_different_gpus_and_release_them(tmp_path):
    with claim_gpu(["3", "5"], tmp_path) as first, claim_gpu(["3", "5"], tmp_path) as second:
        assert {first, second} == {0, 1}
        with pytest.raises(TimeoutError, match=r"no free GPU among \['3', '5'\]"):
            with claim_gpu(["3", "5"], tmp_path, timeout=0.2):
                pass
    with claim_gpu(["3", "5"], tmp_path, timeout=0.2) as again:  # released when the jobs end
        assert again == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gpu-3.lock", "gpu-5.lock"]


def _hold(lock_dir, ready, release):
    with claim_gpu(["0", "1"], lock_dir) as index:
        ready.put(index)
        release.get()


def test_a_claim_held_by_another_process_is_respected_and_freed_when_it_dies(tmp_path):
    context = multiprocessing.get_context("spawn")
    ready, release = context.Queue(), context.Queue()
    worker = context.Process(target=_hold, args=(tmp_path, ready, release))
    worker.start()
    try:
        held = ready.get(timeout=60)
        with claim_gpu(["0", "1"], tmp_path, timeout=5) as mine:
            assert mine != held
            worker.kill()  # a crashed job: its GPU must become free without any clean-up
            worker.join(timeout=60)
            with claim_gpu(["0", "1"], tmp_path, timeout=5) as freed:
                assert freed == held
    finally:
        worker.kill()
        worker.join(timeout=60)


def test_cpu_and_explicit_devices_are_used_as_configured(monkeypatch):
    with claimed_device("cpu") as device:
        assert device == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # whether or not this machine has a GPU
    with pytest.raises(RuntimeError, match="device 'cuda:1' was configured but CUDA is not available"):
        with claimed_device("cuda:1"):
            pass


def test_cuda_k_pins_the_gpu_and_cuda_claims_one_of_the_visible_ones(monkeypatch, tmp_path):
    """CUDA faked: three GPUs visible. No CUDA call is made (torch.device only names the device)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)
    monkeypatch.setattr(devices, "GPU_LOCK_DIR", tmp_path)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    with claimed_device("cuda:2") as pinned:  # cuda:K: as configured, no lock
        assert pinned == torch.device("cuda", 2) and not list(tmp_path.iterdir())
    with claimed_device("cuda") as first, claimed_device("cuda") as second:  # two jobs at once: two GPUs
        assert (first, second) == (torch.device("cuda", 0), torch.device("cuda", 1))
        assert sorted(p.name for p in tmp_path.iterdir()) == ["gpu-0.lock", "gpu-1.lock"]
    # CUDA_VISIBLE_DEVICES 5,7,9: torch numbers them 0, 1, 2; the locks name the physical GPUs
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5,7,9")
    with claimed_device("cuda") as first, claimed_device("cuda") as second:
        assert (first, second) == (torch.device("cuda", 0), torch.device("cuda", 1))
        assert {"gpu-5.lock", "gpu-7.lock"} <= {p.name for p in tmp_path.iterdir()}
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)  # one GPU: used as it is, no lock
    with claimed_device("cuda") as only:
        assert only == torch.device("cuda")
