"""Shared fixtures. Service checks live in tests/services.py (skip outside CI, fail under CI)."""

from __future__ import annotations
