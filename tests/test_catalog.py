"""The built-in catalog: it loads, every number carries provenance, prices match the gathered facts."""

from __future__ import annotations

import copy
import datetime
import re
from importlib.resources import files

import pytest
import yaml

import catalogs
from sim.catalog import Catalog, Fact, InstanceType, load_catalog, parse_catalog
from sim.catalog_facts import ExportFacts
from sim.cost import gb_second_cost_usd, instance_cost_usd
from sim.errors import InputError

# The instance table of catalog-facts.md: name -> (vCPU, memory GiB, GPU count, price USD/h, confidence).
LISTED = {
    "ml.t2.medium": (2, 4, 0, 0.056, "high"),
    "ml.c5.large": (2, 4, 0, 0.102, "high"),
    "ml.c5.xlarge": (4, 8, 0, 0.204, "high"),
    "ml.m5.large": (2, 8, 0, 0.115, "medium"),
    "ml.m5.xlarge": (4, 16, 0, 0.23, "medium"),
    "ml.c6i.large": (2, 4, 0, 0.102, "low"),
    "ml.c6i.xlarge": (4, 8, 0, 0.204, "low"),
    "ml.g4dn.xlarge": (4, 16, 1, 0.736, "medium"),
    "ml.g5.xlarge": (4, 16, 1, 1.408, "medium"),
    "ml.p3.2xlarge": (8, 61, 1, 3.825, "medium"),
    "ml.inf1.xlarge": (4, 8, 0, 0.297, "low"),
}

# Derived sizes catalog-facts.md names explicitly, with their prices.
NAMED_DERIVED = {
    "ml.c5.2xlarge": 0.408,
    "ml.c5.4xlarge": 0.816,
    "ml.c5.9xlarge": 1.836,
    "ml.m5.2xlarge": 0.46,
    "ml.m5.4xlarge": 0.92,
    "ml.m5.12xlarge": 2.76,
}

CATALOG_DATE = datetime.date(2026, 11, 24)
EXPORT_DATE = datetime.date(2026, 11, 25)  # the export limits were gathered a day later
CFN_DATE = datetime.date(2026, 12, 3)  # CloudFormation's template quotas, gathered for issue 17
CFN_DESCRIPTION = "export.cloudformation_description_max_chars"  # gathered with the other export limits
CREDITS_DATE = datetime.date(2026, 12, 2)  # the CPU credits of burstable types, later still
QUOTAS_DATE = datetime.date(2026, 12, 2)  # serverless quotas, the same day
QUOTA_FACTS = ("serverless.endpoints_per_region", "serverless.startup_limit_s", "realtime.data_price_per_gb")
BILL_DATE = datetime.date(2026, 12, 2)  # the whole bill (storage, S3, commitments, new types), the same day
SCALING_DATE = datetime.date(2026, 12, 4)  # the high-resolution concurrency metric, for issue 16
SCALING_FACTS = ("autoscaling.high_resolution_period_s", "autoscaling.high_resolution_scale_out_datapoints")
COMPONENTS_DATE = datetime.date(2026, 12, 7)  # inference components and managed instance scaling, for issue 19
BILL_FACTS = ("realtime.storage_price_per_gb_month", "realtime.default_volume_gb",
              "serverless.provisioned_price_per_gb_second", "serverless.provisioned_inference_price_per_gb_second",
              "object_store.storage_price_per_gb_month", "object_store.put_price_per_1000",
              "object_store.get_price_per_1000", "object_store.retention_days", "commitments.savings_plan_1y_discount",
              "commitments.savings_plan_3y_discount", "multi_model.disk_gb")
NEW_TYPES = ("ml.t3.medium", "ml.r5.large", "ml.r5.xlarge", "ml.r5.2xlarge", "ml.g4dn.2xlarge", "ml.g5.2xlarge",
             "ml.g6.2xlarge", "ml.inf2.xlarge")


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return load_catalog()


@pytest.fixture()
def raw() -> dict:
    return yaml.safe_load(catalogs.read_catalog_text("aws/us-east-1"))


def test_builtin_catalog_loads(cat: Catalog) -> None:
    assert cat.name == "aws/us-east-1"
    assert cat.currency == "USD"
    assert cat.retrieved == CATALOG_DATE
    assert load_catalog("aws/us-east-1") is cat  # cached


def test_package_data_found_through_importlib_resources() -> None:
    resource = files("catalogs").joinpath("aws").joinpath("us-east-1.yaml")
    assert resource.is_file()
    assert catalogs.available() == ["aws/us-east-1"]  # the rubrics folder is not a provider
    assert catalogs.rubrics() == ["complexity", "fitness", "operations", "risks"]
    assert catalogs.read_catalog_text("aws/us-east-1") == resource.read_text(encoding="utf-8")


def test_read_catalog_text_rejects_unknown_and_escaping_names() -> None:
    for name in ("aws/eu-west-9", "../pyproject", "aws/../aws/us-east-1"):
        with pytest.raises(KeyError):
            catalogs.read_catalog_text(name)


def test_every_fact_has_source_and_date(cat: Catalog) -> None:
    facts = cat.facts()
    # instance prices + 4 credit facts per burstable type + 7 realtime + 8 autoscaling + 18 serverless
    # + 1 network + 4 async + 7 object store + 7 batch + 5 co-hosting + 2 multi-model + 4 inference components
    # + 2 triton + 2 commitments + 7 export
    burstable = sum(it.burstable is not None for it in cat.instances.values())
    assert burstable == 2
    assert len(facts) == len(cat.instances) + 4 * burstable + 7 + 8 + 18 + 1 + 4 + 7 + 7 + 5 + 2 + 4 + 2 + 2 + 7
    for path, fact in facts.items():
        assert isinstance(fact, Fact), path
        assert fact.source.strip(), path
        new_type = any(path.startswith(f"instances.{t}.") for t in NEW_TYPES)
        dated = (CFN_DATE if path.startswith("export.cloudformation_") and path != CFN_DESCRIPTION else
                 EXPORT_DATE) if path.startswith("export.") else CREDITS_DATE if ".burstable." in path else \
            QUOTAS_DATE if path in QUOTA_FACTS else SCALING_DATE if path in SCALING_FACTS else \
            COMPONENTS_DATE if path.startswith("inference_components.") else \
            BILL_DATE if path in BILL_FACTS or new_type else CATALOG_DATE
        assert fact.retrieved == dated, path
        if fact.confidence == "assumption":
            assert fact.source == "assumption", path
            assert fact.note.strip(), path


def test_facts_walk_every_section_in_file_order(raw: dict) -> None:
    """`facts()` lists no sections by hand: a section added to the catalog model is in it, and the order
    is the catalog's (instances first, then each section as declared)."""

    class Extended(Catalog):
        extra: ExportFacts

    raw["extra"] = copy.deepcopy(raw["export"])
    facts = Extended.model_validate(raw).facts()
    assert [p for p in facts if p.startswith("extra.")] == [
        "extra.sagemaker_name_max_chars", "extra.cloudformation_description_max_chars",
        "extra.cloudformation_max_resources", "extra.cloudformation_max_outputs",
        "extra.cloudformation_max_parameters", "extra.cloudformation_template_max_bytes",
        "extra.cloudformation_inline_template_max_bytes"]
    sections = list(dict.fromkeys(p.split(".")[0] for p in facts))
    assert sections == ["instances", "realtime", "autoscaling", "serverless", "network", "async_inference",
                        "object_store", "batch", "co_hosting", "multi_model", "inference_components", "triton",
                        "commitments", "export",
                        "extra"]
    assert list(facts)[:2] == ["instances.ml.t2.medium.price_per_hour",
                               "instances.ml.t2.medium.burstable.baseline_share_per_vcpu"]
    assert list(facts)[5] == "instances.ml.c5.large.price_per_hour"  # a type's nested facts follow its own


def test_every_numeric_entry_in_yaml_is_a_fact(raw: dict) -> None:
    # Walks the raw YAML so a bare number slipped into the file is caught even if the schema changed.
    shape = {"vcpu", "memory_gib", "gpu_count", "gpu_memory_gib"}

    def walk(node: object, path: str) -> None:
        if isinstance(node, dict):
            if "value" in node:
                assert {"source", "retrieved", "confidence"} <= node.keys(), path
                return
            for key, child in node.items():
                walk(child, f"{path}.{key}")
        elif isinstance(node, int | float) and not isinstance(node, bool):
            assert path.rsplit(".", 1)[-1] in shape and ".instances." in f".{path}", path

    walk({k: v for k, v in raw.items() if k not in {"name", "currency", "retrieved"}}, "")


@pytest.mark.parametrize("name", sorted(LISTED))
def test_listed_instances_present_with_listed_price(cat: Catalog, name: str) -> None:
    vcpu, mem, gpus, price, confidence = LISTED[name]
    inst = cat.instance(name)
    assert inst.name == name
    assert (inst.vcpu, inst.memory_gib, inst.gpu_count) == (vcpu, mem, gpus)
    assert inst.price_per_hour.value == pytest.approx(price)
    assert inst.price_per_hour.confidence == confidence


def test_inf1_price_is_low_confidence_and_notes_the_conflict(cat: Catalog) -> None:
    inf1 = cat.instance("ml.inf1.xlarge")
    assert inf1.accelerator == "inferentia"
    assert not inf1.has_gpu
    assert "0.368" in inf1.price_per_hour.note


def test_gpu_shapes(cat: Catalog) -> None:
    shapes = {n: (cat.instance(n).gpu_model, cat.instance(n).gpu_memory_gib)
              for n in ("ml.g4dn.xlarge", "ml.g5.xlarge", "ml.p3.2xlarge")}
    assert shapes == {"ml.g4dn.xlarge": ("T4", 16), "ml.g5.xlarge": ("A10G", 24),
                      "ml.p3.2xlarge": ("V100", 16)}
    for inst in cat.instances.values():
        assert (inst.accelerator == "gpu") == (inst.gpu_count > 0), inst.name


@pytest.mark.parametrize("name", sorted(NAMED_DERIVED))
def test_named_derived_sizes(cat: Catalog, name: str) -> None:
    assert cat.instance(name).price_per_hour.value == pytest.approx(NAMED_DERIVED[name])


def test_derived_sizes_are_linear_in_the_xlarge_price(cat: Catalog) -> None:
    derived = [t for t in cat.instances.values() if t.price_per_hour.confidence == "derived"]
    assert {t.name for t in derived} >= set(NAMED_DERIVED)
    for inst in derived:
        family, size = re.fullmatch(r"(ml\.\w+)\.(\d+)xlarge", inst.name).groups()
        base = cat.instance(f"{family}.xlarge")
        factor = int(size)
        assert inst.price_per_hour.value == pytest.approx(factor * base.price_per_hour.value), inst.name
        # Shapes scale with the price, which is what makes linear pricing credible.
        assert inst.vcpu == factor * base.vcpu, inst.name
        assert inst.memory_gib == pytest.approx(factor * base.memory_gib), inst.name
        assert inst.price_per_hour.note, inst.name
        assert inst.accelerator == "cpu", inst.name  # GPU families are not linear


def test_unknown_instance_type_suggests_close_match(cat: Catalog) -> None:
    with pytest.raises(InputError) as info:
        cat.instance("ml.c5.xlarg")
    err = info.value
    assert err.field == "instance_type"
    assert err.got == "ml.c5.xlarg"
    assert "'ml.c5.xlarge'" in err.hint
    assert "ml.c5.xlarge" in str(err)


def test_unknown_instance_type_without_close_match_lists_valid_names(cat: Catalog) -> None:
    with pytest.raises(InputError) as info:
        cat.instance("gpu-please", field="options.realtime.instance_type")
    assert info.value.field == "options.realtime.instance_type"
    assert "ml.t2.medium" in info.value.hint


def test_unknown_catalog_name() -> None:
    with pytest.raises(InputError) as info:
        load_catalog("aws/us-east1")
    err = info.value
    assert err.field == "catalog"
    assert "aws/us-east-1" in err.expected
    assert err.hint == "did you mean 'aws/us-east-1'?"


def test_missing_catalog_file() -> None:
    with pytest.raises(InputError):
        load_catalog("/nonexistent/catalog.yaml")


def test_catalog_from_file(tmp_path, raw: dict) -> None:
    path = tmp_path / "mine.yaml"
    raw["name"] = "mine"
    path.write_text(yaml.safe_dump(raw))
    assert load_catalog(str(path)).name == "mine"


def test_serverless_price(cat: Catalog) -> None:
    sl = cat.serverless
    price = sl.price_per_gb_second.value  # one busy container-second, as serverless bills it
    assert gb_second_cost_usd(1.0, 6144, price) == pytest.approx(0.00012)
    assert gb_second_cost_usd(1.0, 1024, price) == pytest.approx(0.00002)
    assert sl.memory_sizes_mb() == [1024, 2048, 3072, 4096, 5120, 6144]
    assert sl.provisioned_price_per_gb_second.confidence == "assumption"
    assert int(sl.max_concurrency_max) == 200


def test_instance_price_per_second_and_memory(cat: Catalog) -> None:
    c5 = cat.instance("ml.c5.large")
    assert instance_cost_usd(1.0, c5.price_per_hour.value) == pytest.approx(0.102 / 3600)  # billed per second
    assert c5.memory_mb == 4096


def test_cheapest_sorts_by_price(cat: Catalog) -> None:
    gpus = cat.cheapest(lambda t: t.accelerator == "gpu")
    assert [t.name for t in gpus] == ["ml.g4dn.xlarge", "ml.g4dn.2xlarge", "ml.g6.2xlarge", "ml.g5.xlarge",
                                      "ml.g5.2xlarge", "ml.p3.2xlarge"]
    prices = [t.price_per_hour.value for t in cat.cheapest()]
    assert prices == sorted(prices)
    assert cat.cheapest()[0].name == "ml.t3.medium"


def test_parse_errors_name_field_and_source(raw: dict) -> None:
    bad = copy.deepcopy(raw)
    bad["instances"]["ml.c5.large"]["price_per_hour"]["value"] = "cheap"
    with pytest.raises(InputError) as info:
        parse_catalog(bad, "my.yaml")
    assert info.value.field == "instances.ml.c5.large.price_per_hour.value"
    assert info.value.source == "my.yaml"

    bad = copy.deepcopy(raw)
    del bad["serverless"]["keep_alive_s"]
    with pytest.raises(InputError) as info:
        parse_catalog(bad, "my.yaml")
    assert info.value.field == "serverless.keep_alive_s"


def test_assumption_without_note_rejected(raw: dict) -> None:
    raw["network"]["model_download_mb_per_s"]["note"] = ""
    with pytest.raises(InputError) as info:
        parse_catalog(raw, "my.yaml")
    assert info.value.field == "network.model_download_mb_per_s"


def test_models_are_frozen(cat: Catalog) -> None:
    inst: InstanceType = cat.instance("ml.c5.large")
    with pytest.raises(ValueError):
        inst.vcpu = 99
