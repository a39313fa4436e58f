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
