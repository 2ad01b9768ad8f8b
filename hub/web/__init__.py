"""The clinician page: server-rendered Jinja2 pages at / by the same app.

session.py    sign-in: the bearer token in an HttpOnly SameSite=Strict cookie, CSRF tokens,
              the development demo users
pages.py      routes: sign-in, search, overview, print view, consent, emergency access,
              work list
templates/    the pages (Swedish, no JavaScript needed, no external fonts or scripts)

Every read goes through the request's `Access` (hub/access/guard.py), exactly as the FHIR
operations do; writes (consent) go through the FHIR write path.
"""
