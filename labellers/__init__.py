"""labellers package."""
