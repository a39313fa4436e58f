"""Step-size sweeps (spgd.tuning): the points, the choice and the stable width, on hand-made
sweeps whose answers are computed by hand in the comments."""

import math

import pandas as pd
import pytest

from spgd.pipeline.config import SamplerSpec
from spgd.tuning import point_scores, profile, select, stability_table, stable_width, sweep_points


def sweep(scores: dict, diverged=()) -> pd.DataFrame:
    """Per-image rows of one (dataset, task, sampler): {step size: [per-image PSNR]} with one repeat;
    ``diverged``: (step size, image index) pairs whose restoration diverged (value NaN)."""
    rows = [dict(dataset="d", task="t", sampler="s", step_size=step, image=f"i{index}", repeat=0,
                 diverged=(step, index) in diverged, metric="psnr",
                 value=math.nan if (step, index) in diverged else value)
            for step, values in scores.items() for index, value in enumerate(values)]
    return pd.DataFrame(rows)


def test_points_scale_the_step_size_of_every_task():
    spgd = SamplerSpec("spgd", "spgd", {"steps": 30, "lr": 3.0}, {"sr4": {"lr": 30.0}, "hdr": {"warmup": 2}})
    points = sweep_points(spgd, factors=[0.5, 2.0])
    assert [p.spec.name for p in points] == ["spgd_step=0.5", "spgd_step=2"]
    assert [p.step_size("sr4") for p in points] == [15.0, 60.0] and [p.step_size("hdr") for p in points] == [1.5, 6.0]
    assert points[0].spec.task_params["hdr"] == {"warmup": 2}
    dps = SamplerSpec("dps", "dps", {"zeta": 1.0}, {"sr4": {"zeta": 0.3}})
    explicit = sweep_points(dps, values=[0.1, 0.4])
    assert [p.spec.name for p in explicit] == ["dps_zeta=0.1", "dps_zeta=0.4"]
    assert [p.step_size("sr4") for p in explicit] == [0.1, 0.4]  # the explicit value on every task
    with pytest.raises(ValueError, match="sampler daps: no lr in its params to sweep"):
        sweep_points(SamplerSpec("daps", "daps", {"steps": 5}))


def test_the_choice_is_the_best_point_and_never_a_diverged_one():
    # mean PSNR per step size: 0.5 -> 20, 1 -> 22, 2 -> 25 but one image diverged, 4 -> 21
    data = sweep({0.5: [19, 21], 1.0: [21, 23], 2.0: [30, 20], 4.0: [20, 22]}, diverged={(2.0, 1)})
    points = point_scores(data, "psnr")
    assert points["score"].tolist() == [20, 22, 30, 21] and points["diverged"].tolist() == [0, 0, 1, 0]
    choice = select(points, "psnr", configured=0.5)
    assert choice.selected == 1.0 and "among the 3 of 4 points" in choice.reason
    lpips = sweep({0.5: [0.3], 1.0: [0.2], 2.0: [0.4]}).assign(metric="lpips_alex")
    assert select(point_scores(lpips, "lpips_alex"), "lpips_alex", 2.0).selected == 1.0  # lower is better
    tie = point_scores(sweep({0.25: [20.0], 1.0: [20.0], 8.0: [20.0]}), "psnr")
    assert select(tie, "psnr", configured=4.0).selected == 8.0  # log-nearest of the tied: 8 is 1 octave from 4
    dead = point_scores(sweep({1.0: [20.0], 2.0: [21.0]}, diverged={(1.0, 0), (2.0, 0)}), "psnr")
    assert select(dead, "psnr", configured=1.5).selected == 1.5


@pytest.mark.parametrize("profile_, expected", [
    # all stable within 1 dB of the best (25 at 2): 1..8 = 3 octaves, both grid ends reached
    ({1: 24.5, 2: 25.0, 4: 24.2, 8: 24.0}, (3.0, "both")),
    # 1 and 16 lose more than 1 dB; the run is 2..8 (2 octaves) and touches no end
    ({1: 23.0, 2: 24.5, 4: 25.0, 8: 24.1, 16: 20.0}, (2.0, "")),
    # divergence inside the grid: 8 diverged, so 16 (24.8) does not join the run 2..4 around the best
    ({1: 22.0, 2: 24.6, 4: 25.0, 8: "diverged", 16: 24.8}, (1.0, "")),
    # only the best is stable, at the low end: width 0, a lower bound there
    ({0.5: 25.0, 1: 23.5, 2: "diverged"}, (0.0, "low")),
    # every point diverged: no width
    ({1: "diverged", 2: "diverged"}, (math.nan, "")),
])
def test_stable_width_of_hand_made_profiles(profile_, expected):
    steps = list(profile_)
    psnr = [math.nan if v == "diverged" else v for v in profile_.values()]
    width, open_ends = stable_width(steps[::-1], psnr[::-1], [v == "diverged" for v in profile_.values()][::-1])
    assert (width, open_ends) == expected or (math.isnan(expected[0]) and math.isnan(width) and open_ends == "")


def test_profile_and_stability_table():
    # two images, two repeats: at step 1 image i0 scores 20 and 22 (spread 1.414), i1 24 and 24
    rows = []
    for step, values in {1.0: [[20, 22], [24, 24]], 2.0: [[21, math.nan], [25, 25]]}.items():
        for image, repeats in enumerate(values):
            for repeat, value in enumerate(repeats):
                rows.append(dict(dataset="d", task="t", sampler="s", step_size=step, image=f"i{image}",
                                 repeat=repeat, diverged=math.isnan(value), metric="psnr", value=value))
    points = profile(pd.DataFrame(rows))
    first, second = points.iloc[0], points.iloc[1]
    assert (first["mean"], first["image_low"], first["image_high"]) == (22.5, 21.0, 24.0)
    assert first["seed_spread"] == pytest.approx(2**0.5 / 2)  # (sqrt(2) + 0) / 2
    assert second["divergence_rate"] == 0.25 and second["mean"] == 23.0
    table = stability_table(points, {("d", "t", "s"): 1.0})
    row = table.iloc[0]
    # 2 diverged once, so the run around the best stable point (1) is that point alone, at the low end
    assert (row["stable_width"], row["open"], row["divergence_rate"]) == (0.0, "low", 0.125)
    assert row["p5"] == pytest.approx(21.0 + 0.05 * 3)  # numpy's linear interpolation between 21 and 24


# ---- the sweep in the workflow -------------------------------------------------------------------

def tuned_config(folder, **changes):
    """The tiny config with a sweep: its validation images are draws 2 and 3 of 4 from the mixture
    (the test images: draws 0 and 1 of 2), one task, both samplers at three step sizes, two repeats."""
    import yaml

    from test_workflow import TINY

    config = yaml.safe_load(TINY.read_text())
    config.update(sample_jobs="per_task", metrics_jobs="per_dataset",
                  tasks={"gaussian_blur": config["tasks"]["gaussian_blur"]},
                  angles={"tasks": ["gaussian_blur"], "samplers": ["spgd", "dps"]},
                  tuning={"validation": {"synthetic": {"kind": "mixture_samples", "count": 2, "image_size": 16,
                                                        "start": 2}},
                          "factors": [0.25, 1, 4], "repeats": 2},
                  hyperparameters="tuned")
    config.update(changes)
    path = folder / "tuned.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def tuned_run(tmp_path_factory):
    from test_workflow import snakemake

    workdir = tmp_path_factory.mktemp("tuned")
    result = snakemake(workdir, configfile=tuned_config(workdir))
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir


def test_the_sweep_chooses_its_best_point_and_the_test_run_uses_it(tuned_run):
    import json

    import yaml

    selected = yaml.safe_load((tuned_run / "results/tuning/selected.yaml").read_text())
    assert selected["metric"] == "psnr" and "no restoration diverged" in selected["rule"]
    assert [(c["task"], c["sampler"]) for c in selected["choices"]] == [("gaussian_blur", "dps"),
                                                                        ("gaussian_blur", "spgd")]
    for choice in selected["choices"]:
        # the grid is the configured value (spgd lr 1.0; dps zeta 0.3 on gaussian_blur) times 1/4, 1, 4
        configured = {"spgd": 1.0, "dps": 0.3}[choice["sampler"]]
        assert choice["configured"] == configured and choice["grid"] == pytest.approx([configured / 4, configured,
                                                                                        configured * 4])
        alive = [(score, step) for step, score in zip(choice["grid"], choice["scores"]) if score is not None]
        assert choice["selected"] == max(alive)[1]  # the best scored point (scores rounded to 1e-6 dB)
        # the scores are the per-image PSNR of the sweep's metrics, averaged per image over repeats, then over images
        per_image = pd.read_csv(tuned_run / "results/tuning/metrics/synthetic/gaussian_blur.csv")
        point = per_image[(per_image.sampler == f"{choice['sampler']}_step=1") & (per_image.metric == "psnr")]
        assert sorted(point["image"].unique()) == ["synthetic_002", "synthetic_003"] and len(point) == 4
        assert choice["scores"][1] == pytest.approx(point.groupby("image")["value"].mean().mean(), abs=1e-6)
        # the test restorations ran at the chosen step size
        stats = json.loads((tuned_run / f"results/samples/synthetic/gaussian_blur/{choice['sampler']}/shard0.json")
                           .read_text())
        assert stats["settings"][choice["parameter"]] == pytest.approx(choice["selected"])
    # the ablation points of spgd (warmup 1 and 3) take spgd's choice
    spgd_lr = selected["choices"][1]["selected"]
    ablation = json.loads((tuned_run / "results/samples/synthetic/gaussian_blur/spgd_warmup=1/shard0.json").read_text())
    assert ablation["settings"]["lr"] == pytest.approx(spgd_lr)


def test_the_report_shows_the_stability_table_the_plot_and_the_claims(tuned_run):
    stability = pd.read_csv(tuned_run / "results/tuning/stability.csv")
    assert list(stability["sampler"]) == ["dps", "spgd"] and stability["seed_spread"].notna().all()
    claims = pd.read_csv(tuned_run / "results/tables/claims.csv")
    assert list(dict.fromkeys(claims["claim"])) == list("abcdef")
    assert set(claims["claim_verdict"]) <= {"supported", "contradicted", "inconclusive"}
    # at 2 images no comparison can be significant; the wording says so
    assert (claims[claims.claim == "a"]["verdict"] == "inconclusive").all()
    assert "at 2 images the signed-rank test cannot give p below 0.5" in claims[claims.claim == "a"]["evidence"].iloc[0]
    report = (tuned_run / "reports/report.html").read_text()
    assert "<h2>Step-size sweep and stability</h2>" in report and "<h2>The paper's claims</h2>" in report
    assert "<h2>Step-size sweep: mean PSNR against the step size</h2>" in report and "<b>tuned</b>" in report
    assert ("This sweep: dps, spgd on gaussian_blur, at 0.25, 1, 4 times the configured step size; synthetic: 2 "
            "validation images (mixture_samples, from 2); 2 repeats each; chosen by mean PSNR.") in report


def test_validation_images_equal_to_test_images_are_refused_naming_them(tmp_path):
    from test_workflow import snakemake

    config = tuned_config(tmp_path, hyperparameters="configured")
    config.write_text(config.read_text().replace("start: 2", "start: 0"))  # the test images themselves
    result = snakemake(tmp_path, "--until", "validation_dataset", configfile=config)
    assert result.returncode != 0
    log = (tmp_path / "logs/tuning/dataset/synthetic.log").read_text()
    assert ("2 validation image(s) equal test images (same sha256): synthetic_000 = test image synthetic_000, "
            "synthetic_001 = test image synthetic_001") in log
    assert not (tmp_path / "results/tuning/data/synthetic/images.pt").exists()


def test_check_disjoint_names_every_shared_image():
    from spgd.tuning import OverlapError, check_disjoint

    test = [dict(id="a", sha256="AA"), dict(id="b", sha256="bb")]
    check_disjoint(test, [dict(id="c", sha256="cc")])
    with pytest.raises(OverlapError, match="2 validation image.*v1 = test image a, v2 = test image b"):
        check_disjoint(test, [dict(id="v1", sha256="aa"), dict(id="v2", sha256="BB"), dict(id="v3", sha256="dd")])


def test_the_paper_tuning_overlay_needs_its_validation_folders_placed_by_hand(tmp_path):
    """config/paper_tuning.yaml merged into config/paper.yaml: checked, and its validation folders,
    which have no source, stop even a dry run, named with their config keys."""
    import yaml
    from snakemake.utils import update_config

    from spgd.pipeline.validation import checked
    from spgd.tuning import tuning_plan
    from test_workflow import ROOT, snakemake

    config = yaml.safe_load((ROOT / "config/paper.yaml").read_text())
    update_config(config, yaml.safe_load((ROOT / "config/paper_tuning.yaml").read_text()))
    plan = tuning_plan(config, checked(config)[0])
    spgd = [point.step_size("box_inpainting") for point in plan.points["spgd"]]
    dps = [point.step_size("hdr") for point in plan.points["dps"]]
    # paper.yaml's untuned values, SPGD lr 1.0 and DPS zeta 0.3, times 1/4 ... 4
    assert spgd == [0.25, 0.5, 1.0, 2.0, 4.0] and dps == pytest.approx([0.075, 0.15, 0.3, 0.6, 1.2])
    result = snakemake(tmp_path, "-n", configfile=[ROOT / "config/paper.yaml", ROOT / "config/paper_tuning.yaml"])
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "missing inputs without a configured source" in output
    assert "tuning.validation.ffhq.path" in output and "tuning.validation.imagenet.path" in output
