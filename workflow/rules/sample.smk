# One job per dataset, on the resources of a sample job, before any of them: a device that is not
# there or a checkpoint that does not load stops the run once, not in every sample job.
rule preflight:
    input:
        weights=lambda wildcards: prior_weights(wildcards.dataset),
    output:
        RESULTS["preflight"],
    log:
        "logs/preflight/{dataset}.log",
    params:
        settings=lambda wildcards: settings(prior=prior_of(wildcards.dataset), device=config["device"],
                                            pin_file=config["pin_file"]),
    resources:
        gpu=1 if config["device"].startswith("cuda") else 0,
        runtime=10,
    conda:
        "../../environment.yml"
    script:
        "../scripts/preflight.py"


# Sample jobs (config sample_jobs): one per (dataset, task, sampler, shard), or, for small runs
# where job start-up outweighs sampling, one per (dataset, task, shard) that runs every sampler in
# turn. Either way each sampler's shard gets its own files, with the same contents.
rule sample:
    input:
        preflight=RESULTS["preflight"],
        measurements=RESULTS["measurements"],  # with the image ids and shape: no ground truth read
        weights=lambda wildcards: prior_weights(wildcards.dataset) + task_weights(wildcards.task),
        selected=selected_input,
    output:
        restored=sample_outputs("restored"),
        stats=sample_outputs("stats"),
        trace=sample_outputs("trace"),
    log:
        SAMPLE_LOG,
    params:
        settings=sample_settings,
    threads: config["threads"]
    resources:
        gpu=1 if config["device"].startswith("cuda") else 0,
        runtime=lambda wildcards, attempt: 60 * attempt,  # minutes; a retry gets more time
    conda:
        "../../environment.yml"
    script:
        "../scripts/sample.py"
