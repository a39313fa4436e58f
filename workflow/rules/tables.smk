rule tables:
    input:
        all_metric_tables(),
    output:
        tidy=report("results/tables/main.csv", caption="../report/tables.rst", category="Tables"),
        markdown="results/tables/main.md",
        latex="results/tables/main.tex",
        ablations="results/tables/ablations.csv",
        ablation_plot=report("results/figures/ablations.png", caption="../report/ablations.rst", category="Ablations"),
    log:
        "logs/tables.log",
    params:
        runs=RUNS,
        tasks=TASKS,
        metrics=config["metrics"],
        grids=ABLATIONS,
    conda:
        "../../environment.yml"
    script:
        "../scripts/tables.py"
