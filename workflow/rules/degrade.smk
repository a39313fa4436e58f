rule degrade:
    input:
        images=RESULTS["images"],
        weights=lambda wildcards: task_weights(wildcards.task),
    output:
        measurements=RESULTS["measurements"],
        preview=report(RESULTS["preview"], caption="../report/degrade.rst", category="Measurements",
                       subcategory="{dataset}", labels={"dataset": "{dataset}", "task": "{task}"}),
    log:
        "logs/degrade/{dataset}/{task}.log",
    params:
        settings=lambda wildcards: settings(options=operator_options(wildcards.task), seed=config["seed"]),
    conda:
        "../../environment.yml"
    script:
        "../scripts/degrade.py"
