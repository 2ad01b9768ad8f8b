"""Code tables as data (JSON/CSV, each row citing its source) and their loader."""

from mappings.loader import (
    CodeTable,
    IdentifierSystem,
    IdentifierSystems,
    MappedCode,
    NoMapping,
    TargetCoding,
    load_identifier_systems,
    load_table,
    table_names,
)

__all__ = [
    "CodeTable",
    "IdentifierSystem",
    "IdentifierSystems",
    "MappedCode",
    "NoMapping",
    "TargetCoding",
    "load_identifier_systems",
    "load_table",
    "table_names",
]
