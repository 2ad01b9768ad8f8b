"""The hash-chained audit log as the hub keeps it.

log.py    the log in the database: appends, signed checkpoints, verify, records
names.py  directory names (employees, units, providers) for log extracts
cli.py    `hub audit verify | extract | follow-up`
"""
