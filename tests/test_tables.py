import math

import pandas as pd
import pytest

from spgd.reporting.tables import paper_table, result_tables, summarise, to_latex, to_markdown


def long_rows(sampler, image, repeat, diverged, **values):
    return [dict(dataset="d", task="sr4", sampler=sampler, image=image, repeat=repeat, diverged=diverged,
                 metric=metric, value=value, unavailable="") for metric, value in values.items()]


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
                                 spread=math.nan, n=48, unavailable="") for r, v in enumerate([10.0, 14.0])])
    tidy = summarise(per_image(), per_set)
    fid = tidy[tidy.metric == "fid"].iloc[0]
    assert (fid["mean"], fid["n"], fid["repeats"]) == (12.0, 48, 2) and math.isnan(fid["best_of_repeats"])


def test_unavailable_metric_is_na_with_its_reason():
    rows = per_image()
    extra = rows[rows.metric == "psnr"].assign(metric="lpips_alex", value=math.nan, unavailable="too small")
    tidy = summarise(pd.concat([rows, extra], ignore_index=True))
    assert set(tidy[tidy.metric == "lpips_alex"]["unavailable"]) == {"too small"}
    table = paper_table(tidy, ["spgd", "dps"], ["sr4"])
    assert "| spgd | 21.00 | **0.600** | n/a |" in to_markdown(table)


def test_paper_table_marks_the_best_value_per_column():
    table = paper_table(summarise(per_image()), ["spgd", "dps"], ["sr4"])
    assert list(table.index) == ["spgd", "dps"] and list(table.columns) == [("sr4", "psnr"), ("sr4", "ssim")]
    markdown = to_markdown(table)
    assert "| dps | **25.00** | 0.400 |" in markdown and "| spgd | 21.00 | **0.600** |" in markdown
    assert "sr4 PSNR" in markdown and r"\textbf{25.00}" in to_latex(table)


def test_oracle_table_only_with_several_runs():
    single = result_tables(summarise(per_image()), ["spgd", "dps"], ["sr4"], ["psnr", "ssim"])
    assert [title for title, _ in single] == ["d"]
    rows = per_image().assign(repeat=0)
    twice = pd.concat([rows, rows.assign(repeat=1)], ignore_index=True)
    titles = [title for title, _ in result_tables(summarise(twice), ["spgd", "dps"], ["sr4"], ["psnr", "ssim"])]
    assert titles == ["d: mean over 2 repeats per image", "d: best of 2 repeats per image (oracle, as upstream reports)"]
