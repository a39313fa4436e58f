rule dataset:
    input:
        folder=lambda wildcards: image_folder_input(wildcards.dataset),
    output:
        images="results/data/{dataset}/images.pt",
        manifest="results/data/{dataset}/manifest.csv",
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
