"""Researcher search and statistics over cases: filters, the full-text index, keyset pages, counts."""
