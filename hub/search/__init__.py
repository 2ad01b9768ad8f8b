"""FHIR search: parameters from the definitions in fhir/, query parsing, SQL and indexing.

parameters.py  the search parameter registry, loaded from fhir/search-parameters.json
query.py       parse a search request into a SearchQuery (criteria, paging, includes)
sql.py         compile a SearchQuery into SQLAlchemy Core over the index tables
indexing.py    the index rows of one resource, and its patient compartment
subsetting.py  _summary and _elements
"""
