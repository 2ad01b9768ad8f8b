"""Conformance test runner for FHIR servers."""
