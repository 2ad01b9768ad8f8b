"""The unified patient overview: one picture of a patient from every source the reader may see.

record.py       read the patient's data through the access choke point (audited)
model.py        the overview as plain data: plans, team and contacts, listing, timeline,
                indicators, medication and alerts, hidden information, conflicts
indicators.py   ED visits, admissions, bed-days, 30-day readmissions per window
document.py     the overview as a FHIR document Bundle ($overview) and its IPS subset ($summary)
worklist.py     the reader's unit's follow-ups due ($follow-up-due)
definitions.py  the hub's canonical URLs and codes for computed facts (data in fhir/overview/)
routes.py       the FHIR operations
"""
