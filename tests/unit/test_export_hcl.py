"""The export's HCL writer and naming, on their own: whatever text they are given, python-hcl2 parses the
result and the test interpreter reads back the same value; names are readable, unique and order-free."""

from __future__ import annotations

import pytest

from pipelines.export import hcl
from pipelines.export.build import terraform_names
from pipelines.export.resources import RESOURCES

from ..terraform_hcl import JsonEncoded, Reference, Variable, evaluate, parse

AWKWARD = [
    "plain", 'quote " and backslash \\ ', "template ${var.x} and directive %{if true}", "$${already} %%{doubled}",
    "tab\tcarriage\rreturn", "control \x01", "emoji 🚀 RTL مرحبا CJK 漢字", "masked-looking **** text",
    "code\n  indented\n`${body.type}`\n", "no final newline\nEOT\nEOT_", "",
]


@pytest.mark.parametrize("text", AWKWARD)
def test_any_string_survives_as_an_attribute_and_inside_jsonencode(tmp_path, text):
    body = [("plain", text), ("encoded", hcl.jsonencode({"key": text, text or "empty": [text, {"for": text}]}))]
    path = tmp_path / "x.tf"
    path.write_text(hcl.block("resource", ["segment_label", "x"], body))
    [block] = parse(path)["resource"]
    values = evaluate(block)["segment_label"]["x"]
    assert values["plain"] == text
    assert values["encoded"] == JsonEncoded({"key": text, text or "empty": [text, {"for": text}]})


def test_references_variables_and_calls_read_back(tmp_path):
    body = [("source_id", hcl.Ref("segment_source.web")), ("key", hcl.Ref("segment_label.env", "key")),
            ("settings", hcl.jsonencode({"apiKey": hcl.Var("destination_x_api_key"), "n": 1.5, "on": None})),
            ("function_id", hcl.Call("trimprefix", (hcl.Ref("segment_function.f"), "ifnd_")))]
    path = tmp_path / "x.tf"
    path.write_text(hcl.block("resource", ["segment_destination", "x"], body))
    values = evaluate(parse(path)["resource"][0])["segment_destination"]["x"]
    assert values["source_id"] == Reference("segment_source.web", "id")
    assert values["key"] == Reference("segment_label.env", "key")
    assert values["settings"] == JsonEncoded({"apiKey": Variable("destination_x_api_key"), "n": 1.5, "on": None})
    assert values["function_id"] == ("trimprefix", Reference("segment_function.f", "id"), "ifnd_")


SPEC = RESOURCES[0]


def test_names_are_slugs_with_an_id_suffix_only_on_collision():
    names = terraform_names(SPEC, [("a1", "Amplitude (prod)"), ("B2x", "Amplitude (prod)"), ("c3", "Web"),
                                   ("d4", "3rd party"), ("e5", "🚀"), ("f6", None)])
    assert names["c3"] == "web"
    assert {names["a1"], names["B2x"]} == {"amplitude_prod_a1", "amplitude_prod_b2x"}
    assert names["d4"] == "label_3rd_party"
    assert names["e5"].startswith("label") and names["f6"].startswith("label")
    assert len(set(names.values())) == len(names)


def test_names_do_not_depend_on_reading_order():
    labelled = [(f"id{n}", "Same name" if n % 2 else f"Name {n}") for n in range(10)]
    assert terraform_names(SPEC, labelled) == terraform_names(SPEC, list(reversed(labelled)))
