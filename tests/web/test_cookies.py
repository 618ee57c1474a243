"""The shell writes its cookies exactly as Litestar would, however it gets there."""

from __future__ import annotations

import pytest
from litestar.datastructures import Cookie

from governance.web.sessions import new_secret
from governance.web.shell import cookie, set_cookie_value


@pytest.mark.parametrize(
    "pending",
    [
        cookie("governance-csrf", new_secret(), secure=False),
        cookie("__Host-governance-csrf", new_secret(), secure=True),
        cookie("governance-lang", "pt_BR", secure=True, max_age=365 * 24 * 3600),
        cookie("governance-session", "", secure=False, max_age=0),
        cookie("governance-lang", "a b;c", secure=False),
        Cookie(key="other", value="x", domain="example.org", path="/"),
    ],
)
def test_a_set_cookie_header_is_the_one_litestar_writes(pending: Cookie) -> None:
    assert set_cookie_value(pending) == pending.to_header(header="")
