rule tables:
    input:
        per_image=every("per_image"),
        per_set=every("per_set"),
        stats=every("stats"),
        manifests=every("manifest"),  # the image ids each dataset's shards must hold
        published=PUBLISHED,
    output:
        tidy=report(RESULTS["tidy"], caption="../report/tables.rst", category="Tables", labels={"table": "results"}),
        cost=report(RESULTS["cost"], caption="../report/cost.rst", category="Tables", labels={"table": "cost"}),
        sampling=RESULTS["sampling"],
        markdown=RESULTS["markdown"],
        latex=RESULTS["latex"],
        ablations=RESULTS["ablations"],
        ablation_plot=report(RESULTS["ablation_plot"], caption="../report/ablations.rst", category="Ablations",
                             labels={"figure": "ablation curves"}),
        quality_cost_plot=report(RESULTS["quality_cost_plot"], caption="../report/quality_cost.rst",
                                 category="Figures", labels={"figure": "quality against cost", "dataset": "all"}),
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


# The paper's claims, each with this run's evidence and a verdict (spgd.reporting.claims).
rule claims:
    input:
        per_image=every("per_image"),
        traces=[path for dataset in DATASETS for _, _, path in angle_traces(dataset)],
        stability=[RESULTS["stability"]] if TUNING else [],
    output:
        report(RESULTS["claims"], caption="../report/claims.rst", category="Tables", labels={"table": "claims"}),
    log:
        "logs/claims.log",
    params:
        settings=settings(variants={name: SAMPLERS[name].variant for name in config["samplers"]},
                          comparison=dataclasses.asdict(COMPARISON),
                          traces=[(dataset, task, sampler) for dataset in DATASETS
                                  for task, sampler, _ in angle_traces(dataset)]),
    conda:
        "../../environment.yml"
    script:
        "../scripts/claims.py"
