rule sample:
    input:
        images="results/data/{dataset}/images.pt",
        measurements="results/degraded/{dataset}/{task}/measurements.pt",
    output:
        restored="results/samples/{dataset}/{task}/{run}/shard{shard}.pt",
        stats="results/samples/{dataset}/{task}/{run}/shard{shard}.json",
    log:
        "logs/sample/{dataset}/{task}/{run}/shard{shard}.log",
    params:
        prior=lambda wildcards: prior_of(wildcards.dataset),
        sampler=lambda wildcards: config["samplers"][wildcards.run],
        options=lambda wildcards: config["tasks"][wildcards.task],
        shard_size=config["shard_size"],
        seed=config["seed"],
        device=config["device"],
    threads: 2
    resources:
        gpu=1 if config["device"].startswith("cuda") else 0,
        runtime=60,
    conda:
        "../../environment.yml"
    script:
        "../scripts/sample.py"
