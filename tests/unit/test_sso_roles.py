"""The single sign-on's claim→role mapping (KICKOFF_OIDC_ROLES) and its settings, without a provider."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from kickoff.identity.roles import ROLES, allows
from kickoff.identity.sso import parse_role_mapping, role_for
from kickoff.settings import Settings

MAPPING = parse_role_mapping(
    "kickoff-viewers=viewer, kickoff-staff=staff, kickoff-admins=admin, @assist.example=viewer"
)


def test_a_mapping_reads_values_and_domains() -> None:
    """Entries are value=role, spaces around them ignored; a domain key is lower-cased."""
    assert parse_role_mapping(" kickoff-staff = staff ,@Assist.Example=viewer,, ") == {
        "kickoff-staff": "staff",
        "@assist.example": "viewer",
    }


def test_an_empty_mapping_maps_nothing() -> None:
    """No KICKOFF_OIDC_ROLES: no claim gives a role."""
    assert parse_role_mapping("") == {}
    assert role_for({"groups": ["kickoff-staff"], "email": "a@assist.example"}, {}) is None


def test_a_group_id_with_an_equals_sign_keeps_it() -> None:
    """The role is what follows the last '=': a value may contain one."""
    assert parse_role_mapping("a=b=staff") == {"a=b": "staff"}


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("kickoff-staff", "'kickoff-staff' is not value=role"),
        ("=staff", "'=staff' is not value=role"),
        ("@=staff", "'@=staff' is not value=role"),
        ("kickoff-staff=owner", "unknown role 'owner'"),
    ],
)
def test_a_bad_entry_is_named(text: str, named: str) -> None:
    """A typo in the mapping says which entry is wrong."""
    with pytest.raises(ValueError, match=named):
        parse_role_mapping(text)


@pytest.mark.parametrize(
    ("claims", "role"),
    [
        ({"groups": ["kickoff-staff"]}, "staff"),
        ({"groups": "kickoff-admins"}, "admin"),  # one group as a plain string
        ({"groups": ["kickoff-viewers", "kickoff-admins", "kickoff-staff"]}, "admin"),  # the highest wins
        ({"groups": ["Kickoff-Staff"]}, None),  # group values are compared exactly
        ({"groups": [7, None, {"x": 1}]}, None),  # not strings: ignored
        ({"email": "eva@assist.example"}, "viewer"),
        ({"email": "eva@ASSIST.example", "groups": ["kickoff-staff"]}, "staff"),
        ({"email": "eva@assist.example", "email_verified": True}, "viewer"),
        ({"email": "eva@assist.example", "email_verified": False}, None),  # an unverified address
        ({"email": "eva@sub.assist.example"}, None),  # a subdomain is another domain
        ({"email": "eva@elsewhere.example", "groups": []}, None),
        ({}, None),
    ],
)
def test_role_for_claims(claims: dict[str, Any], role: str | None) -> None:
    """The highest role any group or the e-mail domain maps to; None when nothing maps."""
    assert role_for(claims, MAPPING) == role


def test_the_role_claim_is_configurable() -> None:
    """Entra ID's app roles come in 'roles', not 'groups'."""
    mapping = parse_role_mapping("Kickoff.Admin=admin")
    claims = {"roles": ["Kickoff.Admin"], "groups": ["Kickoff.Admin"]}
    assert role_for(claims, mapping, "roles") == "admin"
    assert role_for({"groups": ["Kickoff.Admin"]}, mapping, "roles") is None


@given(
    st.dictionaries(st.sampled_from(["g1", "g2", "g3", "g4"]), st.sampled_from(ROLES)),
    st.lists(st.sampled_from(["g1", "g2", "g3", "g4", "g5"])),
)
def test_the_role_is_the_highest_of_the_mapped_groups(mapping: dict[str, Any], groups: list[str]) -> None:
    """Whatever the mapping and groups: some group maps to the role, and none maps higher."""
    role = role_for({"groups": groups}, mapping)
    mapped = [mapping[g] for g in groups if g in mapping]
    if not mapped:
        assert role is None
    else:
        assert role is not None
        assert role in mapped
        assert all(allows(role, other) for other in mapped)


def test_settings_turn_sso_on_only_with_a_client() -> None:
    """An issuer without its client id and secret fails at start-up, naming what is missing."""
    with pytest.raises(
        ValidationError, match="KICKOFF_OIDC_CLIENT_ID and KICKOFF_OIDC_CLIENT_SECRET are not"
    ):
        Settings(oidc_issuer="https://login.example.com")
    with pytest.raises(ValidationError, match="KICKOFF_OIDC_CLIENT_SECRET is not"):
        Settings(oidc_issuer="https://login.example.com", oidc_client_id="kickoff")
    for issuer in ("login.example.com", "http://login.example.com"):
        with pytest.raises(ValidationError, match="the identity provider's https:// URL"):
            Settings(oidc_issuer=issuer, oidc_client_id="kickoff", oidc_client_secret="s")
    local = Settings(oidc_issuer="http://127.0.0.1:8080", oidc_client_id="kickoff", oidc_client_secret="s")
    assert local.oidc_issuer == "http://127.0.0.1:8080"  # a provider on this machine (the tests')
    assert Settings().oidc_issuer == ""  # off by default


def test_settings_refuse_a_bad_mapping_at_start_up() -> None:
    """A typo in KICKOFF_OIDC_ROLES fails when the settings are read, not at someone's sign-in."""
    with pytest.raises(ValidationError, match="unknown role 'stuff'"):
        Settings(
            oidc_issuer="https://login.example.com",
            oidc_client_id="kickoff",
            oidc_client_secret="s",
            oidc_roles="kickoff-staff=stuff",
        )
