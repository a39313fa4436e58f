rule metric_weights:
    output:
        RESULTS["metric_weights"],
    log:
        "logs/metric_weights.log",
    params:
        hub_dir=config["metric_weights"]["hub_dir"],
        download=config["metric_weights"]["download"],
        convert=config["metric_weights"]["convert"],
        files=WEIGHT_KEYS,
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
        shards=metric_shards,
        per_image=PER_IMAGE,
        per_set=PER_SET,
        hub_dir=config["metric_weights"]["hub_dir"],
        repeats=config["repeats"],
        seed=config["seed"],
        threads=config["threads"],  # torch's, whatever Snakemake grants: CPU numbers depend on it
    threads: config["threads"]
    conda:
        "../../environment.yml"
    script:
        "../scripts/metrics.py"
