"""The identifier systems the code names directly: the one place of their OIDs and URIs.

The same systems are rows of identifier-systems.json (with their sources and the alias
URIs accepted for them); a test keeps the two equal.
"""

from __future__ import annotations

__all__ = ["HSA_ALIASES", "HSA_OID", "HSA_SYSTEM"]

HSA_OID = "1.2.752.129.2.1.4.1"
"""OID of HSA-ids (Inera's national directory of care providers, units and staff)."""

HSA_SYSTEM = f"urn:oid:{HSA_OID}"
"""The hub's canonical FHIR identifier system for HSA-ids."""

HSA_ALIASES: frozenset[str] = frozenset(
    {
        "urn:oid:1.2.752.29.4.19",
        "urn:oid:1.2.752.29.6.2.1",
        "http://electronichealth.se/identifier/hsaid",
    }
)
"""Other systems under which HSA-ids are sent (HL7 Sweden basprofiler, older URI)."""
