"""Conformance testing: run FHIR R4 TestScript resources against any FHIR server.

suites.py     find TestScripts (a suite folder, a file) and their fixture files
tokens.py     bearer tokens: given values or a command that prints one per name
engine.py     the execution: fixtures, variables, setup/test/teardown, operations
asserts.py    the TestScript asserts, each a pass/fail with the script's own message
report.py     FHIR TestReport, JUnit XML and an HTML page from the results
cli.py        `hub conformance run SUITE... --target URL`
suites/       the hub's suites (core REST, SIP exchange, PDL access, bad input) and the
              official R4 TestScript examples that apply
"""
