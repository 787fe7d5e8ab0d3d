"""Which account an actor changes as their own: a user's, and nobody else's."""

from __future__ import annotations

import pytest

from orderly_core.shared.authorization import own_account
from orderly_core.shared.context import Actor, Role


@pytest.mark.parametrize("role", list(Role))
def test_a_user_changes_their_own_account(role: Role) -> None:
    assert own_account(Actor.user("u-9", role)) == "u-9"


@pytest.mark.parametrize(
    "actor",
    [Actor.operator("alice"), Actor.system("worker"), Actor.anonymous()],
    ids=["operator", "system", "anonymous"],
)
def test_no_other_actor_has_an_account_of_their_own(actor: Actor) -> None:
    assert own_account(actor) is None
