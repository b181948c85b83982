"""The one audited door to sealed identity data (api.identity.door)."""
