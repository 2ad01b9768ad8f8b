"""Synthetic demo data: source exports generated for a region and two municipalities.

exports.py  write the demo exports (dated relative to today) and load them through the adapters
parts.py    what the demo loads besides the exports (DemoContext, default_parts: add yours there)
clinical.py the overview's clinical content (medication, conditions, consents, a relative)
users.py    the demo callers (tokens) and which demo person each of them sees
load.py     load the whole demo once; a database that holds it is left as it is
tour.py     the ready-to-paste tour: token exports and one visible patient per user
"""
