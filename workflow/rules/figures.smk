rule angle_figure:
    input:
        lambda wildcards: [
            shard_file(wildcards.dataset, task, run, shard, "trace.csv")
            for task in ANGLE_TASKS
            if task in tasks_of(wildcards.dataset)
            for run in ANGLE_RUNS
            for shard in shards(wildcards.dataset)
        ],
    output:
        report("results/figures/angles_{dataset}.png", caption="../report/angles.rst", category="Figures"),
    log:
        "logs/angle_figure/{dataset}.log",
    conda:
        "../../environment.yml"
    script:
        "../scripts/angle_figure.py"
