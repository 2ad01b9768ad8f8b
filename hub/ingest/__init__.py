"""Adapter intake: load source exports through the adapters into the store, or quarantine them.

`ingest_file` loads one file atomically (one transaction, one Provenance); a rejected
file's bytes go to the quarantine (`QuarantineStore`) for `replay` after a mapping fix.
The HTTP route is `hub.ingest.routes.router`, the CLI `hub.ingest.cli.app`.
"""

from hub.ingest.intake import IngestRejected, IngestSummary, ingest_file, replay
from hub.ingest.quarantine import QuarantineEntry, QuarantineStore
from hub.ingest.registry import ADAPTERS, UnknownAdapter, adapter_names, get_adapter

__all__ = [
    "ADAPTERS",
    "IngestRejected",
    "IngestSummary",
    "QuarantineEntry",
    "QuarantineStore",
    "UnknownAdapter",
    "adapter_names",
    "get_adapter",
    "ingest_file",
    "replay",
]
