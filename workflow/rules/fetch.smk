# One fetch job per external input that is missing when the workflow starts (fetch: true): it
# downloads into a .part file beside the target and renames it after the checks. Inputs that are
# present have no producing rule, so no Snakemake option can overwrite a file you placed yourself.
for missing_input in MISSING_INPUTS:

    rule:
        name:
            f"fetch_{missing_input.name}"
        output:
            directory(missing_input.path) if missing_input.folder else missing_input.path,
        log:
            f"logs/fetch/{missing_input.name}.log",
        params:
            settings=settings(item=missing_input),
        localrule: True
        conda:
            "../../environment.yml"
        script:
            "../scripts/fetch.py"


rule input_provenance:
    input:
        [item.path for item in EXTERNAL_INPUTS],
    output:
        RESULTS["inputs"],
    log:
        "logs/input_provenance.log",
    params:
        settings=settings(external=EXTERNAL_INPUTS),
    conda:
        "../../environment.yml"
    script:
        "../scripts/input_provenance.py"
