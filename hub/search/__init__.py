"""FHIR search: parameters from the definitions in fhir/, query parsing, SQL and indexing.

generate.py    writes fhir/search-index.json from the official R4 definitions in fhir/r4/
parameters.py  the search parameter registry, compiled from fhir/search-index.json
query.py       parse a search request into a SearchQuery (criteria, paging, includes)
sql.py         compile a SearchQuery into SQLAlchemy Core over the index tables
indexing.py    the index rows of one resource, and its patient compartment
subsetting.py  _summary and _elements
reindex.py     `hub reindex`: rebuild index rows and patient columns
"""
