"""Multi-level throttling: see policy.py."""
