"""Connectors: sources read rows in batches, targets write them in transactions with their checkpoint."""
