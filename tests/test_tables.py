import math

import pandas as pd
import pytest

from spgd.reporting.formats import to_latex, to_markdown
from spgd.reporting.statistics import Comparison
from spgd.reporting.summary import cost_table, sampling_summary, summarise
from spgd.reporting.tables import result_tables


def long_rows(sampler, image, repeat, diverged, step=7, **values):
    return [dict(dataset="d", task="sr4", sampler=sampler, image=image, repeat=repeat, diverged=diverged,
                 diverged_step=step if diverged else -1, metric=metric, value=value, unavailable="")
            for metric, value in values.items()]


def per_image():
    return pd.DataFrame(
        long_rows("spgd", "a", 0, False, psnr=20.0, ssim=0.5)
        + long_rows("spgd", "b", 0, False, psnr=22.0, ssim=0.7)
        + long_rows("dps", "a", 0, False, psnr=25.0, ssim=0.4)
        + long_rows("dps", "b", 0, True, psnr=math.nan, ssim=math.nan))


def test_summary_counts_diverged_images_instead_of_averaging_them():
    tidy = summarise(per_image())
    spgd = tidy[(tidy.sampler == "spgd") & (tidy.metric == "psnr")].iloc[0]
    assert (spgd["mean"], spgd["n"], spgd["diverged"], spgd["repeats"]) == (21.0, 2, 0, 1)
    assert spgd["std"] == math.sqrt(2.0)
    dps = tidy[(tidy.sampler == "dps") & (tidy.metric == "psnr")].iloc[0]
    assert (dps["mean"], dps["n"], dps["diverged"]) == (25.0, 1, 1) and math.isnan(dps["std"])
    assert (dps["restorations"], dps["first_diverged_step"]) == (2, 7) and math.isnan(spgd["first_diverged_step"])


def test_several_runs_mean_is_the_headline_and_best_of_n_is_per_image_and_per_metric():
    rows = (long_rows("spgd", "a", 0, False, psnr=20.0, lpips_alex=0.30)
            + long_rows("spgd", "a", 1, False, psnr=24.0, lpips_alex=0.40)
            + long_rows("spgd", "b", 0, False, psnr=30.0, lpips_alex=0.10)
            + long_rows("spgd", "b", 1, True, psnr=math.nan, lpips_alex=math.nan))
    tidy = summarise(pd.DataFrame(rows)).set_index("metric")
    # image a: repeats 20 and 24 -> mean 22, best 24; image b: only repeat 0 counts (repeat 1 diverged)
    assert tidy.loc["psnr", "mean"] == 26.0 and tidy.loc["psnr", "best_of_repeats"] == 27.0
    # lower is better for LPIPS: best picks the minimum, for each metric on its own
    assert tidy.loc["lpips_alex", "best_of_repeats"] == pytest.approx(0.2)
    assert tidy.loc["lpips_alex", "mean"] == pytest.approx(0.225)
    assert (tidy.loc["psnr", "repeats"], tidy.loc["psnr", "diverged"], tidy.loc["psnr", "n"]) == (2, 1, 2)


def test_set_metrics_average_over_runs_and_state_n():
    per_set = pd.DataFrame([dict(dataset="d", task="sr4", sampler="spgd", repeat=r, metric="fid", value=v,
                                 spread=math.nan, n=n, diverged=50 - n, unavailable="")
                            for r, (v, n) in enumerate([(10.0, 48), (14.0, 49)])])
    tidy = summarise(per_image(), per_set)
    fid = tidy[tidy.metric == "fid"].iloc[0]
    assert (fid["mean"], fid["n"], fid["repeats"]) == (12.0, 48, 2) and math.isnan(fid["best_of_repeats"])
    assert (fid["restorations"], fid["diverged"]) == (100, 3)


def markdown_of(tidy, samplers, metrics, **options):
    return "".join(to_markdown(table) for table in result_tables(tidy, samplers, ["sr4"], metrics, **options))


def test_unavailable_metric_is_na_with_its_reason():
    rows = per_image()
    extra = rows[rows.metric == "psnr"].assign(metric="lpips_alex", value=math.nan, unavailable="too small")
    tidy = summarise(pd.concat([rows, extra], ignore_index=True))
    assert set(tidy[tidy.metric == "lpips_alex"]["unavailable"]) == {"too small"}
    markdown = markdown_of(tidy, ["spgd", "dps"], ["psnr", "ssim", "lpips_alex"], lpips="lpips_alex")
    assert "| spgd | **21.00** | **0.600** | n/a |" in markdown


def test_paper_layout_groups_tasks_with_arrows_best_bold_second_underlined():
    rows = [row for sampler, psnr, lpips in (("spgd", 24.0, 0.2), ("dps", 22.0, 0.3), ("daps", 20.0, 0.1))
            for image in "ab" for row in long_rows(sampler, image, 0, False, psnr=psnr, ssim=0.5,
                                                   lpips_vgg_avgpool=lpips, lpips_alex=0.4)]
    tidy = summarise(pd.DataFrame(rows))
    paper, every = result_tables(tidy, ["spgd", "dps", "daps"], ["sr4"], ["psnr", "ssim", "lpips_alex",
                                                                          "lpips_vgg_avgpool"])
    assert [m for _, m in paper.values.columns] == ["psnr", "ssim", "lpips_vgg_avgpool"]
    assert (paper.title, every.title, every.kind) == ("d", "d: every metric", "every")
    markdown = to_markdown(paper)
    assert "| sampler | sr4 PSNR ↑ | sr4 SSIM ↑ | sr4 LPIPS-VGG-avgpool (SPGD/DAPS) ↓ |" in markdown
    # equal values are all best; lower LPIPS is better; with 2 images nothing differs significantly (†)
    assert "| spgd | **24.00** | **0.500** | <u>0.200</u>† |" in markdown
    assert "| dps | <u>22.00</u>† | **0.500** | 0.300† |" in markdown
    assert "| daps | 20.00† | **0.500** | **0.100** |" in markdown
    latex = to_latex(paper)
    assert r"\multicolumn{3}{c}{sr4}" in latex and r"\cmidrule(lr){2-4}" in latex
    assert r"PSNR $\uparrow$" in latex and r"\underline{22.00}" in latex and r"\textbf{0.100}" in latex


def test_a_cell_with_diverged_restorations_is_marked_and_never_bold():
    """3 of dps's 4 images diverged: its mean over the one survivor (30) beats spgd's 21, yet the
    cell says what it rests on and spgd's is the best."""
    rows = [*long_rows("dps", "a", 0, False, psnr=30.0),
            *(row for image in "bcd" for row in long_rows("dps", image, 0, True, step=40, psnr=math.nan)),
            *(row for image, v in zip("abcd", [20.0, 22.0, 21.0, 21.0]) for row in long_rows("spgd", image, 0, False, psnr=v))]
    tidy = summarise(pd.DataFrame(rows))
    table, = result_tables(tidy, ["spgd", "dps"], ["sr4"], ["psnr"])
    markdown, latex = to_markdown(table), to_latex(table)
    assert "| dps | 30.00 (3/4 diverged) |" in markdown and "| spgd | **21.00** |" in markdown
    assert r"30.00 (3/4 diverged)" in latex and r"\textbf{21.00}" in latex and r"\textbf{30.00}" not in latex
    dps = tidy[tidy.sampler == "dps"].iloc[0]
    assert (dps["diverged"], dps["restorations"], dps["first_diverged_step"], dps["n"]) == (3, 4, 40, 1)


def test_oracle_table_only_with_several_runs():
    single = result_tables(summarise(per_image()), ["spgd", "dps"], ["sr4"], ["psnr", "ssim"])
    assert [table.title for table in single] == ["d"]
    rows = per_image().assign(repeat=0)
    twice = pd.concat([rows, rows.assign(repeat=1)], ignore_index=True)
    titles = [table.title for table in result_tables(summarise(twice), ["spgd", "dps"], ["sr4"], ["psnr", "ssim"])]
    assert titles == ["d: mean over 2 repeats per image", "d: best of 2 repeats per image (oracle, as upstream reports)"]


def stats_record(sampler, images, diverged_step=None, **extra):
    return dict(dataset="d", task="sr4", sampler=sampler, images=list(images), repeats=1, nfe_forward=10,
                nfe_backward=10, wall_seconds=1.0, peak_memory_bytes=2**20, device="cpu",
                diverged_step=[diverged_step or [-1] * len(images)], versions={}) | extra


def test_the_report_marks_diverged_cells_and_lists_each_diverged_restoration():
    from spgd.reporting.report import render

    rows = [*long_rows("dps", "a", 0, False, psnr=30.0),
            *(row for image in "bcd" for row in long_rows("dps", image, 0, True, step=40, psnr=math.nan)),
            *(row for image in "abcd" for row in long_rows("spgd", image, 0, False, psnr=21.0))]
    config = {"settings": "demo", "prior": {"type": "gmm_smooth"}, "datasets": {"d": {"kind": "mixture_samples"}},
              "tasks": {"sr4": {}}, "metrics": ["psnr"],
              "samplers": {"spgd": {"variant": "spgd"}, "dps": {"variant": "dps"}}}
    stats = [stats_record("dps", "abcd", [-1, 40, 40, 40]), stats_record("spgd", "abcd")]
    html = render(config, ["spgd", "dps"], summarise(pd.DataFrame(rows)), cost_table(stats), sampling_summary(stats),
                  {})
    assert "30.00 (3/4 diverged)" in html and "<b>21.00</b>" in html and "<b>30.00</b>" not in html
    assert "diverged restorations: 3" in html
    # the summary: dps's one surviving image takes no part; 4 images cannot reach p < 0.05 (smallest p 2/2^4)
    assert "<td>4</td><td>no test can tell samplers apart at 4 images (the smallest p is 0.125, not below 0.05)" in html
    for image in "bcd":
        assert f"<tr><td>d</td><td>sr4</td><td>dps</td><td>{image}</td><td>0</td><td>40</td></tr>" in html


def test_the_report_shows_the_paper_layout_published_rows_cost_and_paired_comparisons():
    from spgd.reporting.report import render

    rows = [row for sampler, values in (("spgd", [20.0, 22.0, 24.0]), ("dps", [19.0, 20.0, 25.0]))
            for image, v in zip("abc", values) for row in long_rows(sampler, image, 0, False, psnr=v, ssim=0.5)]
    config = {"settings": "demo", "prior": {"type": "gmm_smooth"}, "datasets": {"d": {"kind": "mixture_samples"}},
              "tasks": {"sr4": {}}, "metrics": ["psnr", "ssim"], "tables": {"published": "published.csv"},
              "samplers": {"dps": {"variant": "dps"}, "spgd": {"variant": "spgd"}}}
    published = pd.DataFrame([dict(dataset="d", task="sr4", method="DPS", metric="psnr", value=25.1, source="T1")])
    stats = [stats_record("dps", "abc", wall_seconds=3.0), stats_record("spgd", "abc", nfe_forward=50)]
    tidy = summarise(pd.DataFrame(rows), comparison=Comparison("spgd"))
    html = render(config, ["dps", "spgd"], tidy, cost_table(stats), sampling_summary(stats), {}, published=published)
    assert '<th colspan="2" class="group">sr4</th>' in html and "<th>PSNR ↑</th>" in html
    assert '<tr class="published"><th>DPS, published (T1)</th><td>25.10</td><td></td></tr>' in html
    assert "copied from published.csv" in html
    # cost beside quality: NFE, seconds per restoration (3 s over 3 restorations), peak MiB, device
    assert "<td class=\"cost\">10</td><td>10</td><td>1</td><td>1</td><td>cpu</td>" in html
    assert "Paired with spgd" in html and "<tr><th>dps</th><td>-0.67 [" in html


def test_a_sampler_whose_every_restoration_diverged_is_a_result_not_a_crash(tmp_path):
    """Total divergence (here of the reference, spgd): every table marks its cells, the paired
    comparisons say the reference has no restoration, both plots skip it with a note, and the
    report says so at the top."""
    from spgd.reporting.figures import ablation_scores, plot_ablations, plot_quality_cost
    from spgd.reporting.report import render
    from spgd.reporting.formats import paired_rows

    rows = pd.DataFrame(long_rows("spgd", "a", 0, True, psnr=math.nan, ssim=math.nan)
                        + long_rows("spgd", "b", 0, True, psnr=math.nan, ssim=math.nan)
                        + long_rows("dps", "a", 0, False, psnr=25.0, ssim=0.4)
                        + long_rows("dps", "b", 0, False, psnr=23.0, ssim=0.5))
    tidy = summarise(rows, comparison=Comparison("spgd"))
    markdown = markdown_of(tidy, ["spgd", "dps"], ["psnr", "ssim"])
    assert "| spgd | n/a (2/2 diverged) | n/a (2/2 diverged) |" in markdown
    assert paired_rows(tidy, "d", "sr4", ["psnr"], ["spgd", "dps"]) == [("dps", ["n/a: spgd (reference) has no restoration"])]
    cost = cost_table([dict(dataset="d", task="sr4", sampler=s, images=["a", "b"], repeats=1, nfe_forward=1,
                            nfe_backward=1, wall_seconds=1.0, peak_memory_bytes=1, device="cpu") for s in ("spgd", "dps")])
    note = "Every restoration diverged (no value to show): spgd on d / sr4."
    for only in (["dps", "spgd"], ["spgd"]):  # some samplers left to plot, and none
        part = tidy[tidy.sampler.isin(only)]
        plot_quality_cost(part, cost, "psnr", tmp_path / "cost.png", ["sr4"], only, note)
        assert (tmp_path / "cost.png").stat().st_size > 1000
        (tmp_path / "cost.png").unlink()
    scores = ablation_scores(rows[rows.sampler == "spgd"], None, {"lr": [(1.0, "spgd")]})
    assert scores.empty
    plot_ablations(scores, tmp_path / "ablations.png", note=note)
    assert (tmp_path / "ablations.png").stat().st_size > 1000
    config = dict(settings="demo", prior={"type": "gmm_smooth"}, datasets={"d": {}}, tasks={"sr4": {}},
                  samplers={"spgd": {"variant": "spgd"}, "dps": {"variant": "dps"}}, metrics=["psnr", "ssim"])
    html = render(config, ["spgd", "dps"], tidy, cost, dict(devices=["cpu"], wall_seconds=1.0, runs=2, versions={},
                                                            diverged=[]), {})
    assert html.index(f'<p class="banner warning">{note}') < html.index("<h2>What was run</h2>")


def test_the_report_opens_with_the_best_sampler_per_task_and_labels_every_image_column():
    """Summary: on sr4 spgd beats dps on each of 8 images (Wilcoxon p = 2/2^8 = 0.0078 < 0.05: significantly
    best); on hdr dps leads by a mean of 0.25 dB with 4 images up and 4 down (not significant). Image grids:
    a header row names every column."""
    from spgd.reporting.images import TaskGrid
    from spgd.reporting.report import render

    images = "abcdefgh"
    scores = {("sr4", "spgd"): [25.0 + i for i in range(8)], ("sr4", "dps"): [24.0 + 0.9 * i for i in range(8)],
              ("hdr", "spgd"): [20.0, 21.0] * 4, ("hdr", "dps"): [21.5, 20.0] * 4}
    rows = [row | {"task": task} for (task, sampler), values in scores.items()
            for image, value in zip(images, values) for row in long_rows(sampler, image, 0, False, psnr=value)]
    config = {"settings": "demo", "prior": {"type": "gmm_smooth"}, "datasets": {"d": {"kind": "mixture_samples"}},
              "tasks": {"sr4": {}, "hdr": {}}, "metrics": ["psnr"],
              "samplers": {"spgd": {"variant": "spgd"}, "dps": {"variant": "dps"}}}
    stats = [stats_record(s, images) | {"task": t} for s in ("spgd", "dps") for t in ("sr4", "hdr")]
    tidy = summarise(pd.DataFrame(rows), comparison=Comparison("spgd"))
    grid = TaskGrid(["ground truth", "measurement", "spgd", "dps"], [("a", [b"png"] * 4)])
    html = render(config, ["spgd", "dps"], tidy, cost_table(stats), sampling_summary(stats), {"d / sr4": grid})
    summary = html[html.index("<h2>Summary</h2>"):html.index("<h2>What was run</h2>")]
    assert ('<td>d</td><td>sr4</td><td class="nowrap">PSNR ↑</td><td><b>spgd</b></td><td>28.50</td><td>8</td>'
            "<td>significantly best</td>") in summary
    assert ('<td>d</td><td>hdr</td><td class="nowrap">PSNR ↑</td><td><b>dps</b></td><td>20.75</td><td>8</td>'
            "<td>not significantly better than spgd</td>") in summary
    assert ("<tr><th>image</th><th>ground truth</th><th>measurement</th><th>spgd</th><th>dps</th></tr>" in html
            and 'alt="dps, image a"' in html)
    assert html.index("<h2>Summary</h2>") < html.index("<h2>Results</h2>") < html.index("<h2>Images</h2>")
    assert "<details><summary>d / sr4: every metric, cost, paired comparisons</summary>" in html
