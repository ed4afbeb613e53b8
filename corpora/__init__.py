"""corpora package."""
