"""One fact, one place: the contract's facts have one Python definition, which every other
module imports and the pages read from /web/policy.json, never re-typing it."""

from __future__ import annotations

import re
from pathlib import Path

from cardservice import credentials, demo
from cardservice.clock import SHANGHAI
from cardservice.domain import eligibility, identity, policy
from cardservice.settings import Settings
from cardservice.web.policy import policy_document, policy_with
from merchant_api import core
from projections import cards

JS = Path(__file__).resolve().parents[2] / "cardservice" / "web" / "static" / "js"


def test_holder_categories_are_defined_once() -> None:
    assert identity.HOLDER_CATEGORIES is policy.HOLDER_CATEGORIES
    assert credentials.CATEGORIES is policy.HOLDER_CATEGORIES
    assert tuple(demo.ALL) == policy.HOLDER_CATEGORIES
    assert tuple(eligibility.HOLDER_CATEGORY_NAMES) == policy.HOLDER_CATEGORIES


def test_status_list_codes_are_defined_once() -> None:
    by_code = {code: name for name, code in policy.STATUS_LIST_CODES.items()}
    assert by_code == core.STANDING_BY_CODE
    assert (cards.CODE_ACTIVE, cards.CODE_SUSPENDED, cards.CODE_REVOKED, cards.CODE_SUPERSEDED) == (
        0,
        1,
        2,
        3,
    )
    assert {
        name: code for name, code in policy.STATUS_LIST_CODES.items() if name != "superseded"
    } == cards.CODE_BY_STATUS


def test_policy_numbers_and_time_zone_have_one_default() -> None:
    assert core.Policy().clock_skew_seconds == policy.CLOCK_SKEW_SECONDS
    assert core.Policy().presentation_window_seconds == policy.PRESENTATION_WINDOW_SECONDS
    fields = Settings.model_fields
    assert fields["clock_skew_seconds"].default == policy.CLOCK_SKEW_SECONDS
    assert fields["presentation_window_seconds"].default == policy.PRESENTATION_WINDOW_SECONDS
    assert str(SHANGHAI) == str(core.SHANGHAI) == policy.TIME_ZONE


def test_the_document_carries_every_fact_and_the_deployments_numbers() -> None:
    doc = policy_with()
    assert doc["holder_categories"] == list(policy.HOLDER_CATEGORIES)
    assert doc["verdict_statuses"] == list(core.STATUSES)
    assert doc["status_list_codes"] == dict(policy.STATUS_LIST_CODES)
    assert doc["time_zone"] == policy.TIME_ZONE
    assert doc["presentation_refresh_seconds"] == policy.PRESENTATION_REFRESH_SECONDS
    tuned = Settings(clock_skew_seconds=120, presentation_window_seconds=45)
    assert policy_document(tuned)["clock_skew_seconds"] == 120
    assert policy_document(tuned)["presentation_window_seconds"] == 45


def test_the_pages_scripts_do_not_retype_the_facts() -> None:
    facts = [*policy.HOLDER_CATEGORIES, policy.TIME_ZONE]
    numbers = re.compile(r"\b(PRESENTATION_WINDOW|CLOCK_SKEW|REFRESH_SECONDS)\s*=\s*\d")
    for script in sorted(JS.glob("*.js")):
        text = script.read_text("utf-8")
        for fact in facts:
            assert f"'{fact}'" not in text and f'"{fact}"' not in text, (script.name, fact)
        assert not numbers.search(text), script.name
        assert "'superseded']" not in text, script.name  # the status-list codes as a list
