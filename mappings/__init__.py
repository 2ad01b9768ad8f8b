"""Code tables as data (JSON/CSV, each row citing its source) and their loader."""
