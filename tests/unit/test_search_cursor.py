"""The `_cursor` token (hub.search.cursor): which orders page by keyset, and what is refused."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import orjson
import pytest

from hub.errors import InvalidRequest
from hub.search.cursor import KeysetKey, decode_cursor, encode_cursor, keyset_keys
from hub.search.parameters import default_registry
from hub.search.query import parse_search

ID = KeysetKey("res_id", False)
NEWEST = (KeysetKey("last_updated", True), ID)


def _sort(raw: str | None) -> Any:
    params = [("_sort", raw)] if raw else []
    return parse_search("Patient", params, default_registry()).sort


@pytest.mark.parametrize(
    ("raw", "keys"),
    [
        (None, (ID,)),
        ("_id", (ID,)),
        ("-_id", (KeysetKey("res_id", True),)),
        ("-_lastUpdated", NEWEST),
        ("-_lastUpdated,_lastUpdated", NEWEST),
        ("_id,_lastUpdated", (ID,)),
        ("_lastUpdated,-_id", (KeysetKey("last_updated", False), KeysetKey("res_id", True))),
        ("birthdate", None),
        ("_lastUpdated,family", None),
    ],
)
def test_only_column_orders_page_by_keyset(raw: str | None, keys: Any) -> None:
    assert keyset_keys(_sort(raw)) == keys


def _body(token: str) -> dict[str, Any]:
    body: dict[str, Any] = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    return body


def _token(body: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(body)).rstrip(b"=").decode()


def _resealed(body: dict[str, Any]) -> str:
    """An edited body with a checksum that fits it (the checksum is no secret)."""
    text = orjson.dumps([body["v"], body["k"], body["p"], body["q"]])
    return _token({**body, "c": hashlib.sha256(text).hexdigest()[:12]})


def test_a_token_reads_back_and_holds_nothing_but_the_key_position_and_hashes() -> None:
    token = encode_cursor("q" * 16, ["b-1", 1_700_000_000_000_000][::-1], 40)
    assert set(_body(token)) == {"v", "k", "p", "q", "c"}
    cursor = decode_cursor(token, "q" * 16, NEWEST)
    assert cursor.after == (1_700_000_000_000_000, "b-1") and cursor.position == 40


@pytest.mark.parametrize(
    "change",
    [
        {"v": 2},
        {"k": ["only-one"]},
        {"k": ["b-1", 5]},
        {"k": [True, "b-1"]},
        {"k": [5, ""]},
        {"k": [5, "x" * 65]},
        {"p": -1},
        {"p": True},
        {"p": 2**63},
        {"q": 7},
        {"extra": 1},
    ],
)
def test_an_edited_token_is_refused_naming_cursor(change: dict[str, Any]) -> None:
    body = _body(encode_cursor("q" * 16, [5, "b-1"], 40))
    for edited in (_token({**body, **change}), _resealed({**body, **change})):
        with pytest.raises(InvalidRequest) as refused:
            decode_cursor(edited, "q" * 16, NEWEST)
        assert refused.value.issues[0].expression == "_cursor"
        assert edited not in refused.value.message


def test_a_foreign_or_value_sorted_cursor_is_refused() -> None:
    token = encode_cursor("q" * 16, ["b-1"], 20)
    for fingerprint, keys in (("r" * 16, (ID,)), ("q" * 16, None), ("q" * 16, NEWEST)):
        with pytest.raises(InvalidRequest) as refused:
            decode_cursor(token, fingerprint, keys)
        assert refused.value.issues[0].expression == "_cursor"
