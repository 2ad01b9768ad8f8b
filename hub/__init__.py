"""The hub service: store, FHIR REST API, intake, CLI."""
