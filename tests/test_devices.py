"""Device choice of the sample jobs: several GPUs on one node without Slurm."""

import multiprocessing

import pytest
import torch

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


def test_cpu_and_explicit_devices_are_used_as_configured():
    with claimed_device("cpu") as device:
        assert device == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            with claimed_device("cuda"):
                pass
