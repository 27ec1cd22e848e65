"""The one retry helper of the application layer: lost races are run again, then 409."""

from __future__ import annotations

import pytest
from eventsourcing.persistence import IntegrityError

from cardservice.application import retrying
from cardservice.domain.errors import Conflict, InvalidTransition


def test_a_lost_race_runs_the_command_again() -> None:
    calls: list[int] = []

    def command() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise IntegrityError("another writer saved this version")
        return "saved"

    assert retrying(command) == "saved"
    assert len(calls) == 3


def test_too_many_lost_races_are_a_conflict_with_the_callers_words() -> None:
    calls: list[int] = []

    def command() -> None:
        calls.append(1)
        raise IntegrityError("always behind")

    with pytest.raises(Conflict, match="the keyring is busy"):
        retrying(command, attempts=4, busy="the keyring is busy; try again")
    assert len(calls) == 4


def test_a_refusal_of_the_new_state_is_not_retried() -> None:
    calls: list[int] = []

    def command() -> None:
        calls.append(1)
        raise InvalidTransition("the card is already revoked")

    with pytest.raises(InvalidTransition):
        retrying(command)
    assert calls == [1]
