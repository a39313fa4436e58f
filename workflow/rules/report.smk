rule report_html:
    input:
        tidy="results/tables/main.csv",
        weights="results/metric_weights.json",
        ablations="results/tables/ablations.csv",
        ablation_plot="results/figures/ablations.png",
        angle_figures=angle_figures(),
        images=expand("results/data/{dataset}/images.pt", dataset=DATASETS),
        measurements=all_measurements(),
        external_inputs="results/inputs.json",
        restored=lambda wildcards: all_shard_files("pt"),
        stats=lambda wildcards: all_shard_files("json"),
    output:
        "reports/report.html",
    log:
        "logs/report.log",
    params:
        config=config,
        tasks={dataset: tasks_of(dataset) for dataset in DATASETS},
    conda:
        "../../environment.yml"
    script:
        "../scripts/report.py"
