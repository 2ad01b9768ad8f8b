"""Synthetic demo data: source exports generated for a region and two municipalities.

exports.py  write the demo exports and load them through the adapters
"""
