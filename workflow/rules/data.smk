rule dataset:
    input:
        folder=lambda wildcards: image_folder_input(wildcards.dataset),
    output:
        images=RESULTS["images"],
        manifest=RESULTS["manifest"],
    log:
        "logs/dataset/{dataset}.log",
    params:
        spec=lambda wildcards: config["datasets"][wildcards.dataset],
        prior=lambda wildcards: prior_of(wildcards.dataset),
        seed=config["seed"],
    conda:
        "../../environment.yml"
    script:
        "../scripts/dataset.py"
