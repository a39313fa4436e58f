"""The workflow config decoded by the library, without Snakemake; the schema kept equal to the
library's names."""

import pytest
import yaml

from spgd.metrics import METRICS
from spgd.operators import TASKS
from spgd.pipeline.config import SCHEMA, SamplerSpec, adm_variants, sampler_specs
from spgd.samplers import VARIANTS, make_sampler

BASE = {"variant": "spgd_adm", "params": {"steps": 4, "lr": 1.0}, "task_params": {"sr4": {"lr": 7.0}, "hdr": {"beta": 0.5}}}


def config_with(ablations, **samplers):
    return {"samplers": {"base": BASE, **samplers}, "ablations": ablations}


def test_settings_are_params_with_the_task_overrides():
    spec = SamplerSpec.from_config("base", BASE)
    assert spec.settings("sr4") == {"steps": 4, "lr": 7.0}
    assert spec.settings("gaussian_blur") == {"steps": 4, "lr": 1.0}
    assert spec.planned_nfe("sr4") == (4 * 5, 4 * 5)  # SPGD's default warm-up N = 5


def test_ablation_points_follow_the_rules_of_each_parameter():
    specs, ablations = sampler_specs(config_with({
        "lr": {"base": "base", "param": "lr_scale", "values": [0.5]},
        "adm": {"base": "base", "param": "adm", "values": ["off", "released"]},
        "seed": {"base": "base", "param": "sample_seed", "values": [3]},
        "warmup": {"base": "base", "param": "warmup", "values": [2]},
    }))
    scaled = specs["base_lr_scale=0.5"]
    assert scaled.settings("sr4")["lr"] == 3.5 and scaled.settings("hdr") == {"steps": 4, "lr": 0.5, "beta": 0.5}
    assert specs["base_adm=off"].variant == "spgd_no_adm" and specs["base_adm=released"].variant == "spgd"
    assert "adm" not in specs["base_adm=off"].params
    assert specs["base_sample_seed=3"].sample_seed == 3 and specs["base"].sample_seed is None
    assert specs["base_warmup=2"].params == {"steps": 4, "lr": 1.0, "warmup": 2}
    assert ablations["adm"] == [("off", "base_adm=off"), ("released", "base_adm=released")]
    assert list(specs)[:1] == ["base"]


def test_the_adm_variants_come_from_the_variant_table(gmm):
    assert adm_variants() == {"released": "spgd", "applied": "spgd_adm", "off": "spgd_no_adm"}
    # what each name builds (docs/method.md, SPGD): its ADM mode, and one warm-up step for "no warm-up"
    built = {name: make_sampler(name, gmm) for name in VARIANTS if name.startswith("spgd")}
    assert {name: (sampler.adm, sampler.warmup) for name, sampler in built.items()} == {
        "spgd": ("released", 5), "spgd_adm": ("applied", 5), "spgd_no_adm": ("off", 5),
        "spgd_no_warmup": ("released", 1)}


@pytest.mark.parametrize("ablations, message", [
    ({"a": {"base": "base", "param": "adm", "values": [False]}}, "ablations.a: ADM mode False"),
    ({"a": {"base": "nolr", "param": "lr_scale", "values": [2]}}, "lr_scale needs 'lr' in samplers.nolr.params"),
    ({"a": {"base": "base", "param": "warmup", "values": [2]}}, "point 'base_warmup=2' has the name of another sampler"),
])
def test_bad_ablations_are_named(ablations, message):
    config = config_with(ablations, nolr={"variant": "dps"}, **{"base_warmup=2": {"variant": "dps"}})
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        sampler_specs(config)


def test_the_schema_names_what_the_library_defines():
    schema = yaml.safe_load(SCHEMA.read_text())["properties"]
    assert schema["tasks"]["propertyNames"]["enum"] == list(TASKS)
    assert schema["samplers"]["additionalProperties"]["properties"]["variant"]["enum"] == list(VARIANTS)
    assert schema["metrics"]["items"]["enum"] == list(METRICS)
    assert schema["metrics"]["default"] == list(METRICS)


def test_an_adm_ablation_of_dps_gm_sets_its_parameter():
    specs, ablations = sampler_specs({"samplers": {"gm": {"variant": "dps_gm", "params": {"steps": 4}}},
                                      "ablations": {"adm": {"base": "gm", "param": "adm", "values": ["off", "applied"]}}})
    assert specs["gm_adm=off"].variant == "dps_gm" and specs["gm_adm=off"].params == {"steps": 4, "adm": "off"}
    assert specs["gm_adm=off"].build(None, "sr4").gradient_management().adm == "off"


# overlays: merged into their base config by a second --configfile (their first line says so)
OVERLAYS = {"paper_tuning.yaml": "paper.yaml"}


@pytest.mark.parametrize("path", sorted(SCHEMA.parents[2].glob("config/**/*.yaml")), ids=lambda p: p.name)
def test_every_shipped_config_passes_the_checks(path):
    from snakemake.utils import update_config

    from spgd.pipeline.validation import checked, load_config, read_yaml

    if path.name not in OVERLAYS:
        assert load_config(path)["samplers"]
        return
    config = read_yaml(path.with_name(OVERLAYS[path.name]))
    update_config(config, read_yaml(path))
    assert f"--configfile config/{OVERLAYS[path.name]} config/{path.name}" in path.read_text().splitlines()[0]
    specs, _ = checked(config, [path.with_name(OVERLAYS[path.name]), path])
    assert config["hyperparameters"] == "tuned" and set(config["tuning"]["samplers"]) <= set(specs)


def test_the_demo_runs_every_sampler_at_80_network_evaluations():
    """What README and docs/workflow.md say of config/config.yaml: 4 held-out photos at 32 px, the
    seven offline tasks, the eight sampler configurations, 80 network evaluations per restoration
    (SPGD without warm-up: its 16 steps without the 5 iterations each, 16)."""
    from spgd.pipeline.validation import load_config

    config = load_config(SCHEMA.parents[2] / "config" / "config.yaml")
    (dataset,) = config["datasets"].values()
    assert (dataset["kind"], dataset["count"], dataset["image_size"]) == ("held_out_photos", 4, 32)
    assert set(config["tasks"]) == set(TASKS) - {"nonlinear_blur"}
    specs, _ = sampler_specs(config)
    assert sorted(spec.variant for spec in specs.values() if "=" not in spec.name) == sorted(
        ["dps", "dps_gm", "dps_gm", "daps", "spgd", "spgd_adm", "spgd_no_warmup", "spgd_no_adm"])
    for spec in specs.values():
        for task in config["tasks"]:
            assert spec.planned_nfe(task)[0] == (16 if spec.variant == "spgd_no_warmup" else 80), (spec.name, task)
