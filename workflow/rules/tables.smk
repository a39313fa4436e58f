rule tables:
    input:
        all_metric_tables(),
    output:
        tidy=report("results/tables/main.csv", caption="../report/tables.rst", category="Tables"),
        markdown="results/tables/main.md",
        latex="results/tables/main.tex",
    log:
        "logs/tables.log",
    params:
        runs=RUNS,
        tasks=TASKS,
    conda:
        "../../environment.yml"
    script:
        "../scripts/tables.py"
