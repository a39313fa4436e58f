rule metric_weights:
    output:
        RESULTS["metric_weights"],
    log:
        "logs/metric_weights.log",
    params:
        settings=settings(**config["metric_weights"], files=WEIGHT_KEYS),
    conda:
        "../../environment.yml"
    script:
        "../scripts/metric_weights.py"


rule truth_png:
    input:
        images=RESULTS["images"],
    output:
        directory(RESULTS["truth_png"]),
    log:
        "logs/truth_png/{dataset}.log",
    conda:
        "../../environment.yml"
    script:
        "../scripts/export_png.py"


# One job per (dataset, task), or (metrics_jobs: per_dataset) one per dataset for every task: the
# metric networks are loaded once per job.
rule metrics:
    input:
        unpack(metric_inputs),
    output:
        per_image=metrics_outputs("per_image"),
        per_set=metrics_outputs("per_set"),
        png=[directory(path) for path in metrics_outputs("png")],
    log:
        METRICS_LOG,
    params:
        settings=metrics_settings,
    threads: config["threads"]
    conda:
        "../../environment.yml"
    script:
        "../scripts/metrics.py"
