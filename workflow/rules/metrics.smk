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


rule metrics:
    input:
        unpack(metric_inputs),
    output:
        per_image=RESULTS["per_image"],
        per_set=RESULTS["per_set"],
        png=directory(RESULTS["png"]),
    log:
        "logs/metrics/{dataset}/{task}.log",
    params:
        shards=lambda wildcards: sampler_shards("restored", wildcards.dataset, wildcards.task),
        per_image=PER_IMAGE,
        per_set=PER_SET,
        hub_dir=config["metric_weights"]["hub_dir"],
        repeats=config["repeats"],
        seed=config["seed"],
    threads: 2
    conda:
        "../../environment.yml"
    script:
        "../scripts/metrics.py"
