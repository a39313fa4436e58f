import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_library_examples_in_docs_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the metrics example provisions networks into ./.cache
    text = (ROOT / "docs" / "library.md").read_text()
    namespace = {}
    for code in re.findall(r"```python\n(.*?)```", text, re.S):
        exec(compile(code, "docs/library.md", "exec"), namespace)
    result = namespace["result"]
    assert result.x.shape == (1, 1, 8, 8) and result.nfe_forward == 500
    assert not result.diverged.any()
    assert all(r["available"] for r in namespace["records"])


def test_the_readme_example_runs():
    namespace = {}
    for code in re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S):
        exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["restored"].shape == (1, 1, 8, 8) and namespace["restored"].isfinite().all()


def test_exactness_table_writes_csv_and_html(tmp_path):
    from spgd import exactness

    quick = {name: {**params, "steps": 10} for name, params in exactness.SAMPLERS.items()}
    rows = exactness.exactness_rows(samples=16, samplers=quick)
    assert {r["task"] for r in rows} == set(exactness.TASKS)
    assert len(rows) == len(exactness.TASKS) * (len(exactness.SAMPLERS) + 1)
    exact = [r for r in rows if r["sampler"] == "exact posterior"]
    assert all(0.8 < r["std_ratio"] < 1.2 and r["mean_error"] < 0.3 for r in exact)
    exactness.write_csv(rows, tmp_path / "t.csv")
    exactness.write_html(rows, tmp_path / "t.html", 16)
    assert (tmp_path / "t.csv").read_text().startswith("task,sampler,mean_error")
    assert "Not paper settings" in (tmp_path / "t.html").read_text()


def test_every_test_docs_testing_names_exists():
    """docs/testing.md names the test behind each claim: ``file::test``, or ``::test`` for another
    test of the file named last; each must exist, so that a renamed or deleted test shows here."""
    defined = {path.name: set(re.findall(r"^def (test_\w+)", path.read_text(), re.M))
               for path in (ROOT / "tests").glob("test_*.py")}
    missing, current = [], None
    for file, test in re.findall(r"`(test_\w+\.py)?(?:::(test_\w+))?`", (ROOT / "docs" / "testing.md").read_text()):
        current = file or current
        if file and file not in defined or test and test not in defined.get(current, ()):
            missing.append(f"{current}::{test}")
    assert not missing
