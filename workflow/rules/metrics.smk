rule metric_weights:
    output:
        "results/metric_weights.json",
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
        images="results/data/{dataset}/images.pt",
    output:
        directory("results/png/{dataset}/ground_truth"),
    log:
        "logs/truth_png/{dataset}.log",
    conda:
        "../../environment.yml"
    script:
        "../scripts/export_png.py"


rule metrics:
    input:
        unpack(metric_inputs),
    output:
        per_image="results/metrics/{dataset}/{task}.csv",
        per_set="results/set_metrics/{dataset}/{task}.csv",
        png=directory("results/png/{dataset}/{task}"),
    log:
        "logs/metrics/{dataset}/{task}.log",
    params:
        shards=lambda wildcards: run_shards(wildcards.dataset, wildcards.task),
        per_image=PER_IMAGE,
        per_set=PER_SET,
        hub_dir=config["metric_weights"]["hub_dir"],
        runs=config["runs"],
        seed=config["seed"],
    threads: 2
    conda:
        "../../environment.yml"
    script:
        "../scripts/metrics.py"
