# Not part of `all`: `snakemake train_demo_prior` rebuilds the shipped demo prior from its seed
# (spgd/priors/weights/ holds the copy that ships).
rule train_demo_prior:
    output:
        weights="results/demo_prior/demo_edm_unet.pt",  # same name as the shipped file: same bytes
        record="results/demo_prior/training.json",
        card="results/demo_prior/MODEL_CARD.md",
    log:
        "logs/train_demo_prior.log",
    params:
        settings=settings(**config["demo_prior_training"]),
    threads: 2
    conda:
        "../../environment.yml"
    script:
        "../scripts/train_demo_prior.py"
