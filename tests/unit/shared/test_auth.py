"""Credential tokens, scopes and the verifier's cache."""

from __future__ import annotations

import pytest

from shared.credentials import Caller, check_scopes, hash_token, key_id_of, new_token


def test_tokens_carry_their_key_id_and_garbage_has_none() -> None:
    key_id, token = new_token()
    assert key_id_of(token) == key_id
    assert len(hash_token(token)) == 64
    assert new_token()[1] != token
    for garbage in ("", "lf_", "lf_short_x", "xx_0123456789abcdef_secret", "Bearer lf"):
        assert key_id_of(garbage) is None


@pytest.mark.parametrize(
    ("scopes", "allowed", "refused"),
    [
        ({"admin"}, ["admin", "sales", "submit", "read"], ["partner"]),
        ({"sales"}, ["sales", "read"], ["admin", "submit", "partner"]),
        ({"read"}, ["read"], ["admin", "sales", "submit"]),
        ({"submit"}, ["submit"], ["read", "admin"]),
        ({"partner"}, ["partner"], ["read", "admin", "sales"]),
    ],
)
def test_scopes_imply_what_they_say(
    scopes: set[str], allowed: list[str], refused: list[str]
) -> None:
    caller = Caller("0123456789abcdef", "x", frozenset(scopes))
    assert all(caller.may(s) for s in allowed)
    assert not any(caller.may(s) for s in refused)


def test_a_firm_key_is_a_partner_key_only_and_ops_ones_need_known_scopes() -> None:
    assert check_scopes((), "acme") == ("partner",)
    with pytest.raises(ValueError, match="partner scope only"):
        check_scopes(("admin",), "acme")
    with pytest.raises(ValueError, match="one or more of"):
        check_scopes(("root",), None)
    with pytest.raises(ValueError, match="one or more of"):
        check_scopes((), None)
    assert check_scopes(("read", "sales", "read"), None) == ("read", "sales")
