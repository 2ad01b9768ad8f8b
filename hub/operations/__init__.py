"""What an operator runs the hub with: logging, the request log, health and metrics.

logs.py      log level and format (text or JSON) for `hub serve` (HUB_LOG_LEVEL, HUB_LOG_FORMAT)
requests.py  ASGI middleware: request id, one request-log line per request, request metrics
metrics.py   the Prometheus registry of one app and the gauges read at scrape time
routes.py    /health, /ready and /metrics
"""
