rule report_html:
    input:
        tidy=RESULTS["tidy"],
        weights=RESULTS["metric_weights"],
        ablations=RESULTS["ablations"],
        ablation_plot=RESULTS["ablation_plot"],
        quality_cost_plot=RESULTS["quality_cost_plot"],
        published=PUBLISHED,
        angle_figures=expand(RESULTS["angle_figure"], dataset=angle_datasets()),
        images=every("images"),
        measurements=every("measurements"),
        external_inputs=RESULTS["inputs"],
        # the sampling as a whole comes from the tables step (cost, sampling), so the report lists
        # only the shards its image grids show, not every shard: a large grid's DAG builds faster
        cost=RESULTS["cost"],
        sampling=RESULTS["sampling"],
        restored=lambda wildcards: image_grid_shards(),
        claims=RESULTS["claims"],
        tuning=[RESULTS[key] for key in ("selected", "stability", "stability_plot")] if TUNING else [],
    output:
        RESULTS["html_report"],
    log:
        "logs/report.log",
    params:
        settings=lambda wildcards: settings(config=config, samplers=list(SAMPLERS), image_grids=image_grid_inputs(),
                                            angle_datasets=angle_datasets()),
    conda:
        "../../environment.yml"
    script:
        "../scripts/report.py"


# The README's picture and findings (make docs): the first image of each task of the first dataset,
# restored by every sampler with its PSNR, and the run's per-task verdicts and claims in Markdown.
rule showcase:
    input:
        tidy=RESULTS["tidy"],
        claims=RESULTS["claims"],
        per_image=[result("per_image", dataset=DATASETS[0], task=task) for task in tasks_of(DATASETS[0])],
        images=result("images", dataset=DATASETS[0]),
        measurements=[result("measurements", dataset=DATASETS[0], task=task) for task in tasks_of(DATASETS[0])],
        restored=lambda wildcards: image_grid_shards(DATASETS[:1]),
    output:
        figure="docs/demo.png",
        findings="docs/findings.md",
    log:
        "logs/showcase.log",
    params:
        settings=lambda wildcards: settings(
            dataset=DATASETS[0], image_grids=image_grid_inputs(DATASETS[:1]), samplers=list(SAMPLERS), tasks=TASKS,
            metrics=config["metrics"], comparison=dataclasses.asdict(COMPARISON), lpips=config["tables"]["lpips"],
            settings_name=config["settings"]),
    conda:
        "../../environment.yml"
    script:
        "../scripts/showcase.py"
