"""Adapters: source journal exports (RIVTA XML, municipal CSV, HL7 v2) into FHIR R4 resources."""
