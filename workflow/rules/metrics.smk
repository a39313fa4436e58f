rule metrics:
    input:
        images="results/data/{dataset}/images.pt",
        manifest="results/data/{dataset}/manifest.csv",
        shards=sample_shards,
    output:
        "results/metrics/{dataset}/{task}/{run}.csv",
    log:
        "logs/metrics/{dataset}/{task}/{run}.log",
    params:
        metrics=config["metrics"],
    conda:
        "../../environment.yml"
    script:
        "../scripts/metrics.py"
