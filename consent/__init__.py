"""PDL access policy: pure access decisions and the tamper-evident audit log."""
