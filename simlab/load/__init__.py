"""Live runs against a Redis-compatible server: the embedded engine or any Redis URL."""
