"""The FHIR R4 REST API: interactions, search, bundles, operations, error handling."""
