"""The secret box's rules without a database: malformed keys stop the settings, naming the
setting and never the value; a value opens only on its own row and under a configured key."""

from __future__ import annotations

import base64
import os
from uuid import uuid4

import pytest
from pydantic import SecretStr, ValidationError

from infra.secretbox import SecretBox, SecretUnreadable
from infra.settings import Settings


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("secrets_key", "not-base64!"),
        ("secrets_key", base64.b64encode(b"short").decode()),
        ("secrets_old_keys", base64.b64encode(os.urandom(32)).decode() + ",c2hvcnQ="),
    ],
)
def test_a_malformed_key_is_refused_naming_the_setting(field: str, value: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(**{field: SecretStr(value)})
    assert f"OKR_{field.upper()} must be base64 of 32 random bytes" in str(caught.value)
    assert value not in str(caught.value)


def test_an_empty_key_is_no_key() -> None:
    assert SecretBox.from_settings(Settings(secrets_key=SecretStr(""))) is None


def test_seal_and_open_under_current_and_old_keys() -> None:
    old, new = os.urandom(32), os.urandom(32)
    row = uuid4()
    sealed = SecretBox(old).seal(row, "whsec_abc")
    assert "whsec_abc" not in sealed and sealed.startswith("okrsec1:")
    assert SecretBox(new, (old,)).open(row, sealed) == "whsec_abc"
    assert not SecretBox(new, (old,)).is_current(sealed)
    with pytest.raises(SecretUnreadable):
        SecretBox(new).open(row, sealed)
    with pytest.raises(SecretUnreadable):
        SecretBox(old).open(uuid4(), sealed)
    with pytest.raises(SecretUnreadable):
        SecretBox(old).open(row, "okrsec1:" + SecretBox(old).key_id + ":%%%")


@pytest.mark.parametrize(
    "stored", ["okrsec1:", "okrsec1:abcd", "okrsec1:{kid}:AAAA", "okrsec1:{kid}:"]
)
def test_a_damaged_value_is_unreadable_not_a_crash(stored: str) -> None:
    box = SecretBox(os.urandom(32))
    with pytest.raises(SecretUnreadable):
        box.open(uuid4(), stored.format(kid=box.key_id))
