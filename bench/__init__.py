"""SPLP benchmark runner: `python -m bench --scenario passthrough` (see bench/runner.py)."""
