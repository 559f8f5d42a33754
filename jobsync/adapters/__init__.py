"""Thin adapters between the domain and the outside world (git, store, logs)."""
