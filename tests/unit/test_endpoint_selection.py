"""Which endpoints a run reads (`segment_source.endpoints.select_endpoints`): tables by name, groups, the
default groups, the parents a child table is read through, and the errors for unknown names."""

from __future__ import annotations

import pytest

from segment_source.endpoints import ENDPOINTS, GROUPS, GROUPS_ON_BY_DEFAULT, select_endpoints


def names(endpoints) -> set:
    return {endpoint.name for endpoint in endpoints}


def tables(endpoints) -> set:
    return {endpoint.table_name for endpoint in endpoints}


def test_a_plain_run_reads_the_default_endpoints_of_the_default_groups():
    expected = {e.name for e in ENDPOINTS if e.group in GROUPS_ON_BY_DEFAULT and e.default}
    assert names(select_endpoints()) == expected
    assert "catalog" not in GROUPS_ON_BY_DEFAULT and not any(e.group == "catalog" for e in select_endpoints())


@pytest.mark.parametrize("group", GROUPS)
def test_a_group_brings_its_default_endpoints_only(group):
    selected = select_endpoints(groups=[group])
    own = [e for e in selected if e.group == group]
    assert names(own) == {e.name for e in ENDPOINTS if e.group == group and e.default}
    parents = {e.parent for e in selected}
    assert all(e.group == group or e.name in parents for e in selected), "only parents come from other groups"


def test_a_child_table_is_read_through_its_parents_up_to_the_top():
    selected = select_endpoints(names=["warehouse_selective_syncs"])
    assert [e.name for e in selected] == ["warehouses", "source_warehouses", "warehouse_selective_syncs"]


def test_a_table_read_by_several_endpoints_brings_each_of_them_and_their_parents():
    selected = select_endpoints(names=["function_versions"])
    assert tables(selected) == {"functions", "function_versions"}
    assert len([e for e in selected if e.table_name == "function_versions"]) == len(
        [e for e in ENDPOINTS if e.table_name == "function_versions"])


def test_an_opt_in_resource_is_read_when_named_with_the_groups_asked_for():
    opt_in = next(e for e in ENDPOINTS if not e.default)
    selected = select_endpoints(names=[opt_in.table_name], groups=["iam"])
    assert opt_in.name in names(selected)
    assert {e.name for e in ENDPOINTS if e.group == "iam" and e.default} <= names(selected)


def test_selection_keeps_the_declared_order_parents_first():
    selected = select_endpoints(groups=list(GROUPS))
    order = [e.name for e in ENDPOINTS]
    assert [e.name for e in selected] == sorted(names(selected), key=order.index)
    for position, endpoint in enumerate(selected):
        if endpoint.parent:
            assert endpoint.parent in [e.name for e in selected[:position]]


@pytest.mark.parametrize("kwargs, message", [
    ({"names": ["sources", "sauces"]}, "Unknown resource(s): sauces. Run `segment-history resources` to list them."),
    ({"groups": ["core", "crm"]}, "Unknown group(s): crm. Groups: " + ", ".join(GROUPS) + "."),
])
def test_an_unknown_name_is_refused_with_what_to_do(kwargs, message):
    with pytest.raises(ValueError) as refused:
        select_endpoints(**kwargs)
    assert str(refused.value) == message
