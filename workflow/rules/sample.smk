rule sample:
    input:
        images="results/data/{dataset}/images.pt",
        measurements="results/degraded/{dataset}/{task}/measurements.pt",
        weights=lambda wildcards: prior_weights(wildcards.dataset) + task_weights(wildcards.task),
    output:
        restored="results/samples/{dataset}/{task}/{run}/shard{shard}.pt",
        stats="results/samples/{dataset}/{task}/{run}/shard{shard}.json",
        trace="results/samples/{dataset}/{task}/{run}/shard{shard}.trace.csv",
    log:
        "logs/sample/{dataset}/{task}/{run}/shard{shard}.log",
    params:
        prior=lambda wildcards: prior_of(wildcards.dataset),
        sampler=lambda wildcards: config["samplers"][wildcards.run],
        options=lambda wildcards: operator_options(wildcards.task),
        shard_size=config["shard_size"],
        seed=config["seed"],
        runs=config["runs"],
        device=config["device"],
        trace=lambda wildcards: traced(wildcards.task, wildcards.run),
    threads: 2
    resources:
        gpu=1 if config["device"].startswith("cuda") else 0,
        runtime=lambda wildcards, attempt: 60 * attempt,  # minutes; a retry gets more time
    conda:
        "../../environment.yml"
    script:
        "../scripts/sample.py"
