"""lobes package."""
