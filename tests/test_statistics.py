"""Paired comparisons, cost, published numbers and the LaTeX tables (issue 16)."""

import math
import os
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from spgd.reporting.formats import to_latex, to_markdown
from spgd.reporting.published import read_published
from spgd.reporting.statistics import Comparison, paired_difference, smallest_p
from spgd.reporting.summary import COST_COLUMNS, cost_table, summarise
from spgd.reporting.tables import result_tables


def scores(sampler, values, metric="psnr", repeat=0):
    return [dict(dataset="d", task="sr4", sampler=sampler, image=f"i{i}", repeat=repeat, diverged=False,
                 diverged_step=-1, metric=metric, value=v, unavailable="") for i, v in enumerate(values)]


def test_bootstrap_interval_covers_a_known_mean_difference_at_about_the_nominal_rate():
    """Skewed per-image differences (exponential, true mean 0.5) on 30 images, 400 trials."""
    generator = np.random.default_rng(0)
    comparison = Comparison(resamples=2000)
    covered = 0
    trials = 400
    for trial in range(trials):
        reference = pd.Series(generator.normal(20, 2, 30))
        values = reference + generator.exponential(0.5, 30)
        found = paired_difference(values, reference, comparison, trial)
        covered += found["difference_low"] <= 0.5 <= found["difference_high"]
    # nominal 95 %; binomial sd over 400 trials is 1.1 points, BCa under-covers a little at n = 30
    assert 0.90 <= covered / trials <= 0.98, covered / trials


def test_intervals_agree_to_the_shown_digits_across_bootstrap_seeds():
    """A paper-sized comparison (100 images, per-image sd 1 dB): the bounds of five seeds stay
    within one unit of the last digit shown (0.01 dB)."""
    generator = np.random.default_rng(1)
    reference = pd.Series(generator.normal(25, 2, 100))
    values = reference + generator.normal(0.3, 1.0, 100)
    bounds = np.array([[found["difference_low"], found["difference_high"]]
                       for seed in range(5) for found in [paired_difference(values, reference, Comparison(seed=seed))]])
    assert (bounds.max(axis=0) - bounds.min(axis=0) < 0.01).all(), bounds


def test_zero_shift_is_not_marked_significant_and_a_large_one_is():
    generator = np.random.default_rng(2)
    base = generator.normal(25, 2, 40)
    rows = (scores("spgd", base) + scores("same", base + generator.normal(0, 0.5, 40))
            + scores("worse", base - 2 + generator.normal(0, 0.5, 40)))
    tidy = summarise(pd.DataFrame(rows), comparison=Comparison("spgd")).set_index("sampler")
    assert tidy.loc["same", "p_vs_reference"] > 0.05 and tidy.loc["worse", "p_vs_reference"] < 1e-6
    assert tidy.loc["worse", "difference_high"] < -1.5 and tidy.loc["same", "difference_low"] < 0 < tidy.loc[
        "same", "difference_high"]
    assert tidy.loc["worse", "paired_n"] == 40 and math.isnan(tidy.loc["spgd", "paired_n"])
    table, = result_tables(tidy.reset_index(), ["spgd", "same", "worse"], ["sr4"], ["psnr"])
    best = tidy["mean"].idxmax()
    marked = {name for name, tied in table.tied[("sr4", "psnr")].items() if tied}
    assert best in {"spgd", "same"} and marked == {"spgd", "same"} - {best}
    markdown = to_markdown(table)
    assert re.search(r"\| worse \| [0-9.]+ \|", markdown) and "†" in markdown and "no difference can" not in markdown


def test_the_unit_is_the_image_and_results_do_not_depend_on_row_order():
    """Two repeats per image: each image's value is its mean over repeats, so the difference is
    that of the image means; shuffling the rows changes nothing."""
    rows = pd.DataFrame(scores("spgd", [20, 22, 24, 26]) + scores("spgd", [22, 24, 26, 28], repeat=1)
                        + scores("dps", [19, 20, 24, 24]) + scores("dps", [19, 20, 26, 26], repeat=1))
    tidy = summarise(rows, comparison=Comparison("spgd"))
    dps = tidy.set_index("sampler").loc["dps"]
    assert dps["difference"] == pytest.approx(np.mean([19 - 21, 20 - 23, 25 - 25, 25 - 27]))
    assert dps["paired_n"] == 4
    shuffled = summarise(rows.sample(frac=1, random_state=3), comparison=Comparison("spgd"))
    pd.testing.assert_frame_equal(tidy, shuffled)


def test_smallest_possible_p_is_stated_when_too_few_images_to_reach_significance():
    assert smallest_p(4) == 0.125 and smallest_p(6) < 0.05
    rows = pd.DataFrame(scores("spgd", [20, 22, 24, 26]) + scores("dps", [10, 12, 14, 16]))
    markdown = "".join(map(to_markdown, result_tables(summarise(rows), ["spgd", "dps"], ["sr4"], ["psnr"])))
    assert "| dps | <u>13.00</u>† |" in markdown and "smallest p the test can give is 0.125" in markdown


def test_cost_columns_equal_the_sample_jobs_records():
    stats = [dict(dataset="d", task="sr4", sampler="spgd", images=["a", "b"], repeats=2, nfe_forward=500,
                  nfe_backward=500, wall_seconds=8.0, peak_memory_bytes=3 * 2**30, device="cuda:0"),
             dict(dataset="d", task="sr4", sampler="spgd", images=["c"], repeats=2, nfe_forward=500,
                  nfe_backward=500, wall_seconds=2.0, peak_memory_bytes=2 * 2**30, device="cuda:1"),
             dict(dataset="d", task="sr4", sampler="daps", images=["a", "b", "c"], repeats=1, nfe_forward=1000,
                  nfe_backward=0, wall_seconds=6.0, peak_memory_bytes=2**30, device="cuda:0")]
    cost = cost_table(stats)
    assert list(cost.columns) == COST_COLUMNS and list(cost["sampler"]) == ["daps", "spgd"]
    cost = cost.set_index("sampler")
    assert cost.loc["spgd", ["jobs", "restorations", "nfe_forward", "nfe_backward"]].tolist() == [2, 6, 500, 500]
    assert cost.loc["spgd", "seconds_per_restoration"] == 10.0 / 6 and cost.loc["daps", "seconds_per_restoration"] == 2
    assert cost.loc["spgd", "peak_memory_bytes"] == 3 * 2**30 and cost.loc["spgd", "device"] == "cuda:0, cuda:1"
    assert cost.loc["daps", ["nfe_forward", "nfe_backward"]].tolist() == [1000, 0]


PUBLISHED = """dataset,task,method,metric,value,source
d,sr4,DPS,psnr,24.5,Chung et al. 2023 Table 1
d,sr4,DPS,lpips_vgg_avgpool,0.21,Chung et al. 2023 Table 1
other,sr4,DPS,psnr,1.0,elsewhere
"""


def test_published_numbers_appear_labelled_and_take_no_part_in_the_marks(tmp_path):
    path = tmp_path / "published.csv"
    path.write_text(PUBLISHED)
    published = read_published(path)
    rows = pd.DataFrame(scores("spgd", [20, 22]) + scores("dps", [19, 21]))
    table, = result_tables(summarise(rows), ["spgd", "dps"], ["sr4"], ["psnr"], published=published,
                           published_file=str(path))
    markdown, latex = to_markdown(table), to_latex(table)
    # 24.5 beats ours, yet our best stays bold; the other dataset's row is not shown
    assert "| DPS, published (Chung et al. 2023 Table 1) | 24.50 |" in markdown and "| spgd | **21.00** |" in markdown
    assert "| 1.00 |" not in markdown and "elsewhere" not in markdown and f"copied from {path}" in markdown
    assert r"DPS, published (Chung et al. 2023 Table 1) & 24.50 \\" in latex


@pytest.mark.parametrize("text, message", [
    ("dataset,task,method,metric,value\n", "the header must be dataset,task,method,metric,value,source"),
    ("dataset,task,method,metric,value,source\nd,sr4,DPS,psnrr,24,x\n", "line 2: metric 'psnrr' is not one of"),
    ("dataset,task,method,metric,value,source\nd,sr4,DPS,psnr,high,x\n", "line 2: value 'high' is not a finite"),
    ("dataset,task,method,metric,value,source\nd,sr4,DPS,psnr,24,\n", "line 2: source empty"),
    ("dataset,task,method,metric,value,source\nd,sr4,DPS,psnr,24,x\nd,sr4,DPS,psnr,25,x\n", "lines 2, 3 give the same"),
])
def test_a_bad_published_file_is_named_with_its_line(tmp_path, text, message):
    path = tmp_path / "published.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=re.escape(message)) as error:
        read_published(path)
    assert str(path) in str(error.value)


def latex_tables():
    rows = pd.DataFrame(scores("spgd", [20, 22]) + scores("dps_gm & co_1", [19, 21])
                        + scores("spgd", [0.2, 0.3], "lpips_vgg_avgpool") + scores("dps_gm & co_1", [0.3, 0.3], "lpips_vgg_avgpool"))
    rows = pd.concat([rows, rows.assign(task="motion_blur")], ignore_index=True)
    published = pd.DataFrame([dict(dataset="d", task="sr4", method="50% #1 {x}", metric="psnr", value=1.0,
                                   source="a_b ~c")])
    tables = result_tables(summarise(rows), ["spgd", "dps_gm & co_1"], ["sr4", "motion_blur"],
                           ["psnr", "lpips_vgg_avgpool"], published=published)
    return "\n".join(map(to_latex, tables))


def test_latex_tables_parse_row_by_row():
    """Parser level: environments nest, braces balance, and every row has as many cells as the
    tabular has columns (a \\multicolumn{k} counting k)."""
    latex = latex_tables()
    stack = []
    for kind, name in re.findall(r"\\(begin|end)\{(\w+)\}", latex):
        if kind == "begin":
            stack.append(name)
        else:
            assert stack.pop() == name
    assert not stack
    depth = 0
    for char in re.sub(r"\\[{}]", "", latex):
        depth += {"{": 1, "}": -1}.get(char, 0)
        assert depth >= 0
    assert depth == 0
    columns = len(re.search(r"\\begin\{tabular\}\{(l r*)\}", latex.replace("lr", "l r")).group(1).replace(" ", ""))
    for line in latex.splitlines():
        if line.endswith(r"\\"):
            cells = re.split(r"(?<!\\)&", line[:-2])
            widths = [int(m.group(1)) if (m := re.match(r"\s*\\multicolumn\{(\d+)\}", c)) else 1 for c in cells]
            assert sum(widths) == columns, line
    assert r"dps\_gm \& co\_1" in latex and r"50\% \#1 \{x\}, published (a\_b \textasciitilde{}c)" in latex


# CI sets SPGD_REQUIRE_LATEX (.ci/run), so that there a missing engine fails the test instead of skipping it
@pytest.mark.skipif(shutil.which("pdflatex") is None and not os.environ.get("SPGD_REQUIRE_LATEX"),
                    reason="no pdflatex (CI installs it and requires it: .ci/run)")
def test_latex_tables_compile(tmp_path):
    assert shutil.which("pdflatex"), "SPGD_REQUIRE_LATEX is set but there is no pdflatex on PATH"
    (tmp_path / "tables.tex").write_text(latex_tables())
    (tmp_path / "doc.tex").write_text("\\documentclass{article}\n\\usepackage[T1]{fontenc}\n\\usepackage{booktabs}\n"
                                      "\\begin{document}\n\\input{tables.tex}\n\\end{document}\n")
    result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 1000
