rule angle_figure:
    input:
        lambda wildcards: [path for _, _, path in angle_traces(wildcards.dataset)],
    output:
        report(RESULTS["angle_figure"], caption="../report/angles.rst", category="Figures",
               labels={"figure": "gradient angles", "dataset": "{dataset}"}),
    log:
        "logs/angle_figure/{dataset}.log",
    params:
        settings=lambda wildcards: settings(traces=angle_traces(wildcards.dataset)),
    conda:
        "../../environment.yml"
    script:
        "../scripts/angle_figure.py"
