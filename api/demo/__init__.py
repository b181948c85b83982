"""Synthetic demonstration data: realistic, pseudonymous, reproducible from a seed, loaded in bulk."""
