rule sample:
    input:
        images=RESULTS["images"],
        measurements=RESULTS["measurements"],
        weights=lambda wildcards: prior_weights(wildcards.dataset) + task_weights(wildcards.task),
    output:
        restored=RESULTS["restored"],
        stats=RESULTS["stats"],
        trace=RESULTS["trace"],
    log:
        "logs/sample/{dataset}/{task}/{sampler}/shard{shard}.log",
    params:
        prior=lambda wildcards: prior_of(wildcards.dataset),
        sampler=lambda wildcards: SAMPLERS[wildcards.sampler],
        options=lambda wildcards: operator_options(wildcards.task),
        shard_size=config["shard_size"],
        seed=config["seed"],
        repeats=config["repeats"],
        device=config["device"],
        trace=lambda wildcards: traced(wildcards.task, wildcards.sampler),
    threads: 2
    resources:
        gpu=1 if config["device"].startswith("cuda") else 0,
        runtime=lambda wildcards, attempt: 60 * attempt,  # minutes; a retry gets more time
    conda:
        "../../environment.yml"
    script:
        "../scripts/sample.py"
