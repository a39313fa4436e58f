rule degrade:
    input:
        images="results/data/{dataset}/images.pt",
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
        options=lambda wildcards: config["tasks"][wildcards.task],
        seed=config["seed"],
    conda:
        "../../environment.yml"
    script:
        "../scripts/degrade.py"
