rule tables:
    input:
        per_image=every("per_image"),
        per_set=every("per_set"),
        stats=every("stats"),
        manifests=every("manifest"),  # the image ids each dataset's shards must hold
        published=PUBLISHED,
    output:
        tidy=report(RESULTS["tidy"], caption="../report/tables.rst", category="Tables"),
        cost=report(RESULTS["cost"], caption="../report/cost.rst", category="Tables"),
        sampling=RESULTS["sampling"],
        markdown=RESULTS["markdown"],
        latex=RESULTS["latex"],
        ablations=RESULTS["ablations"],
        ablation_plot=report(RESULTS["ablation_plot"], caption="../report/ablations.rst", category="Ablations"),
        quality_cost_plot=report(RESULTS["quality_cost_plot"], caption="../report/quality_cost.rst",
                                 category="Figures"),
    log:
        "logs/tables.log",
    params:
        settings=settings(samplers=list(SAMPLERS), tasks=TASKS, metrics=config["metrics"], ablations=ABLATIONS,
                          comparison=dataclasses.asdict(COMPARISON), lpips=config["tables"]["lpips"],
                          datasets=DATASETS, shard_size=config["shard_size"], repeats=config["repeats"]),
    conda:
        "../../environment.yml"
    script:
        "../scripts/tables.py"
