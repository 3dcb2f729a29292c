"""Token digests and partner key parsing."""

from __future__ import annotations

from shared.auth import hash_token, new_token, token_matches
from shared.partners import key_id_of, new_partner_key


def test_a_token_matches_only_its_own_digest() -> None:
    token, other = new_token(), new_token()
    assert token != other
    assert token_matches(token, {hash_token(other), hash_token(token)})
    assert not token_matches(token, {hash_token(other)})
    assert not token_matches(token, set())


def test_partner_keys_carry_their_key_id_and_garbage_has_none() -> None:
    key_id, token = new_partner_key()
    assert key_id_of(token) == key_id
    for garbage in ("", "lf_", "lf_short_x", "xx_0123456789abcdef_secret", "Bearer lf"):
        assert key_id_of(garbage) is None
