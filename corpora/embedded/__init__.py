"""Pieces of the embedded corpus generator (speech synthesis, speakers, text, layouts)."""
