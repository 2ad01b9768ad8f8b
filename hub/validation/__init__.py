"""Validation of resources on write.

resources.py  fhir.resources R4B validation, required bindings, identifiers
pool.py       worker processes that validate large transactions beside the request
"""
