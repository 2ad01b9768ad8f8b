"""Keyset paging: the `_cursor` token of a search's `next` link (ADR 0006).

A search ordered by columns of the resources table alone (no `_sort`, or `_sort` made of
`_id` and `_lastUpdated`, with the id as the final tie-breaker) is a total order on those
columns, so its next page is the rows whose key comes after the last row shown: the store
adds that condition (hub.search.sql.after_condition) instead of skipping rows by offset.
Any other `_sort` (a search parameter's value) keeps `_offset` paging. A history (of the
system, a type or one resource) pages the same way by `HISTORY_KEYS`.

The token is base64url (no padding) of a small JSON object: the format version `v`, the
last row's key values `k` (its id, and its lastUpdated in microseconds when the order
uses it: only what that row already showed the caller), the page position `p` (the
offset the page stands at, for the previous and first links and the total arithmetic),
the fingerprint `q` of the query's type, criteria and order, and a checksum `c` of the
rest. The checksum finds a damaged or edited token; it is no secret and guards nothing:
what a reader may see is decided by the scope in the SQL, and a crafted key only moves the
position among the rows that scope shows.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import orjson

from hub.errors import InvalidRequest

__all__ = [
    "CURSOR_VERSION",
    "HISTORY_KEYS",
    "Cursor",
    "KeysetKey",
    "decode_cursor",
    "encode_cursor",
    "fingerprint",
    "keyset_keys",
]

CURSOR_VERSION = 1
MAX_TOKEN_LENGTH = 512
"""Longer tokens are refused before decoding (an id is at most 64 characters)."""
MAX_ID_LENGTH = 64
LARGEST_INTEGER = 2**63 - 1

KeyColumn = Literal["res_id", "last_updated", "res_type", "version_id"]
KeyValue = str | int


@dataclass(frozen=True)
class KeysetKey:
    """One column of a keyset order and its direction."""

    column: KeyColumn
    descending: bool


HISTORY_KEYS = (
    KeysetKey("last_updated", True),
    KeysetKey("res_type", False),
    KeysetKey("res_id", False),
    KeysetKey("version_id", True),
)
"""The order of a history (newest first, then type, id and newest version), a total
order on the versions table: its `_cursor` holds the last version's four values."""


class SortSpec(Protocol):
    """What keyset_keys reads of a sort key (hub.search.query.SortKey)."""

    @property
    def kind(self) -> str: ...

    @property
    def descending(self) -> bool: ...


@dataclass(frozen=True)
class Cursor:
    """A decoded `_cursor`: the key values of the last row shown and the page position."""

    after: tuple[KeyValue, ...]
    position: int


def keyset_keys(sort: Sequence[SortSpec]) -> tuple[KeysetKey, ...] | None:
    """The columns of a search's order when it is a keyset order: every sort key `_id` or
    `_lastUpdated`, closed by the id (ascending, as hub.search.sql.order_by adds it). Keys
    after the id, and repeats of a column, never decide the order and are left out.
    None when a key sorts by a search parameter's value."""
    keys: list[KeysetKey] = []
    seen: set[str] = set()
    for key in sort:
        if key.kind not in ("id", "lastUpdated"):
            return None
        column: KeyColumn = "res_id" if key.kind == "id" else "last_updated"
        if column in seen:
            continue
        seen.add(column)
        keys.append(KeysetKey(column, key.descending))
        if column == "res_id":
            return tuple(keys)
    keys.append(KeysetKey("res_id", False))
    return tuple(keys)


def fingerprint(resource_type: str, criteria: object, sort: object) -> str:
    """A short hash of what decides a search's rows and their order (its type, parsed
    criteria and sort keys, never the page size, includes or the answer's shape)."""
    text = repr((resource_type, criteria, sort)).encode("utf-8")
    return hashlib.sha256(text).hexdigest()[:16]


def _checksum(version: int, after: Sequence[KeyValue], position: int, query: str) -> str:
    text = orjson.dumps([version, list(after), position, query])
    return hashlib.sha256(text).hexdigest()[:12]


def encode_cursor(query_fingerprint: str, after: Sequence[KeyValue], position: int) -> str:
    """The `_cursor` of the page after the row whose key values are `after`, standing at
    `position`."""
    body = {
        "v": CURSOR_VERSION,
        "k": list(after),
        "p": position,
        "q": query_fingerprint,
        "c": _checksum(CURSOR_VERSION, after, position, query_fingerprint),
    }
    return base64.urlsafe_b64encode(orjson.dumps(body)).rstrip(b"=").decode("ascii")


def _refuse(reason: str) -> InvalidRequest:
    return InvalidRequest(f"_cursor {reason}", expression="_cursor")


def _key_value(key: KeysetKey, value: object) -> KeyValue:
    if key.column in ("res_id", "res_type"):
        if isinstance(value, str) and 0 < len(value) <= MAX_ID_LENGTH:
            return value
    elif (
        isinstance(value, int)
        and not isinstance(value, bool)
        and -LARGEST_INTEGER <= value <= LARGEST_INTEGER
    ):
        return value
    raise _refuse("is not a valid paging cursor")


def decode_cursor(token: str, query_fingerprint: str, keys: tuple[KeysetKey, ...] | None) -> Cursor:
    """The cursor `token` holds, for the search of `query_fingerprint` ordered by `keys`.
    A damaged, edited or foreign token, or one for a search that pages by _offset (`keys`
    None), is refused with a 400 naming `_cursor` (never quoting the token)."""
    if keys is None:
        raise _refuse(
            "is only for searches ordered by _id and _lastUpdated; this one pages by _offset"
        )
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise _refuse("is not a valid paging cursor")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        body = orjson.loads(raw)
    except (binascii.Error, ValueError):
        raise _refuse("is not a valid paging cursor") from None
    if not isinstance(body, dict) or set(body) != {"v", "k", "p", "q", "c"}:
        raise _refuse("is not a valid paging cursor")
    if body["v"] != CURSOR_VERSION:
        raise _refuse("is of a version this server does not read")
    after, position, query = body["k"], body["p"], body["q"]
    if (
        not isinstance(after, list)
        or len(after) != len(keys)
        or not isinstance(position, int)
        or isinstance(position, bool)
        or not 0 <= position <= LARGEST_INTEGER
        or not isinstance(query, str)
    ):
        raise _refuse("is not a valid paging cursor")
    values = tuple(_key_value(key, value) for key, value in zip(keys, after, strict=True))
    if body["c"] != _checksum(CURSOR_VERSION, values, position, query):
        raise _refuse("is not a valid paging cursor")
    if query != query_fingerprint:
        raise _refuse("belongs to another search (its criteria or _sort differ)")
    return Cursor(after=values, position=position)
