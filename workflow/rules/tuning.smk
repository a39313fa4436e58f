# The step-size sweep on held-out (validation) images (config tuning): the data, measurement,
# sample and metrics rules again, on files under results/tuning/, with the sweep's points as
# samplers; then the choice per (dataset, task, sampler), the stability profile and its plot.


# The validation images of a dataset; the job stops, naming them, if any is also a test image.
use rule dataset as validation_dataset with:
    input:
        folder=lambda wildcards: image_folder_input(TUNING.validation[wildcards.dataset]),
        test_manifest=RESULTS["manifest"],
    output:
        images=RESULTS["validation_images"],
        manifest=RESULTS["validation_manifest"],
    log:
        "logs/tuning/dataset/{dataset}.log",
    params:
        settings=lambda wildcards: settings(spec=TUNING.validation[wildcards.dataset],
                                            mixture=mixture_of(wildcards.dataset), seed=config["seed"]),


use rule degrade as sweep_degrade with:
    input:
        images=RESULTS["validation_images"],
        weights=lambda wildcards: task_weights(wildcards.task),
    output:
        measurements=RESULTS["sweep_measurements"],
        preview=RESULTS["sweep_preview"],
    log:
        "logs/tuning/degrade/{dataset}/{task}.log",


use rule sample as sweep_sample with:
    input:
        preflight=RESULTS["preflight"],
        measurements=RESULTS["sweep_measurements"],
        weights=lambda wildcards: prior_weights(wildcards.dataset) + task_weights(wildcards.task),
    output:
        restored=sweep_sample_outputs("sweep_restored"),
        stats=sweep_sample_outputs("sweep_stats"),
        trace=sweep_sample_outputs("sweep_trace"),
    log:
        SWEEP_LOG,
    params:
        settings=sweep_sample_settings,


use rule metrics as sweep_metrics with:
    input:
        images=RESULTS["validation_images"],
        weights=RESULTS["metric_weights"],
        shards=lambda wildcards: [p for samplers in sweep_metric_shards(wildcards).values()
                                  for paths in samplers.values() for p in paths],
    output:
        per_image=sweep_metrics_outputs("sweep_per_image"),
    log:
        SWEEP_METRICS_LOG,
    params:
        settings=lambda wildcards: settings(shards=sweep_metric_shards(wildcards), per_image=TUNING.metrics, per_set=[],
                                            hub_dir=config["metric_weights"]["hub_dir"],
                                            shard_size=config["shard_size"], repeats=TUNING.repeats,
                                            seed=config["seed"], threads=config["threads"]),


rule tuning:
    input:
        per_image=[result("sweep_per_image", dataset=dataset, task=task) for dataset in TUNED_DATASETS
                   for task in sweep_tasks(dataset)],
    output:
        selected=RESULTS["selected"],
        profile=RESULTS["profile"],
        stability=report(RESULTS["stability"], caption="../report/stability.rst", category="Tuning",
                         labels={"result": "stability table"}),
        plot=report(RESULTS["stability_plot"], caption="../report/stability.rst", category="Tuning",
                    labels={"result": "step-size sweep"}),
    log:
        "logs/tuning.log",
    params:
        settings=settings(points=sweep_points_table() if TUNING else [], metric=TUNING.metric if TUNING else None),
    conda:
        "../../environment.yml"
    script:
        "../scripts/tuning.py"
