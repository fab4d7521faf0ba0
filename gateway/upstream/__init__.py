"""Upstream HTTP clients: one interface (base.py), two implementations (lean.py, aio.py)."""
