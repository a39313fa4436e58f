rule tables:
    input:
        per_image=every("per_image"),
        per_set=every("per_set"),
    output:
        tidy=report(RESULTS["tidy"], caption="../report/tables.rst", category="Tables"),
        markdown=RESULTS["markdown"],
        latex=RESULTS["latex"],
        ablations=RESULTS["ablations"],
        ablation_plot=report(RESULTS["ablation_plot"], caption="../report/ablations.rst", category="Ablations"),
    log:
        "logs/tables.log",
    params:
        samplers=list(SAMPLERS),
        tasks=TASKS,
        metrics=config["metrics"],
        ablations=ABLATIONS,
    conda:
        "../../environment.yml"
    script:
        "../scripts/tables.py"
