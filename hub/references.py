"""Finding and rewriting the `reference` strings inside a resource's JSON.

A transaction replaces the urn:uuid fullUrls and conditional references (`Type?query`) its
entries use by the `Type/id` they stand for; both the request thread and the preparation
workers (hub/validation_pool.py) do it with these two functions.
"""

from __future__ import annotations

from typing import Any


def reference_holders(node: Any) -> list[dict[str, Any]]:
    """Every object in `node` with a string `reference`, to be rewritten in place."""
    found: list[dict[str, Any]] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key == "reference" and isinstance(value, str):
                    found.append(item)
                elif isinstance(value, dict | list):
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(v for v in item if isinstance(v, dict | list))
    return found


def rewrite_references(node: Any, mapping: dict[str, str]) -> None:
    """Replace, in place, every reference that `mapping` knows."""
    if not mapping:
        return
    for holder in reference_holders(node):
        target = mapping.get(holder["reference"])
        if target is not None:
            holder["reference"] = target
