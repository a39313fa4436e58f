rule dataset:
    input:
        folder=lambda wildcards: image_folder_input(config["datasets"][wildcards.dataset]),
    output:
        images=RESULTS["images"],
        manifest=RESULTS["manifest"],
    log:
        "logs/dataset/{dataset}.log",
    params:
        settings=lambda wildcards: settings(spec=config["datasets"][wildcards.dataset],
                                            mixture=mixture_of(wildcards.dataset), seed=config["seed"]),
    conda:
        "../../environment.yml"
    script:
        "../scripts/dataset.py"
