rule degrade:
    input:
        images="results/data/{dataset}/images.pt",
        weights=lambda wildcards: task_weights(wildcards.task),
    output:
        measurements="results/degraded/{dataset}/{task}/measurements.pt",
        preview=report(
            "results/degraded/{dataset}/{task}/preview.png",
            caption="../report/degrade.rst",
            category="Measurements",
        ),
    log:
        "logs/degrade/{dataset}/{task}.log",
    params:
        options=lambda wildcards: operator_options(wildcards.task),
        seed=config["seed"],
    conda:
        "../../environment.yml"
    script:
        "../scripts/degrade.py"
