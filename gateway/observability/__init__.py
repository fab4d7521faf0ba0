"""Observability: operator logs, the access log, analytics events and their sinks, metrics, the status listener."""
