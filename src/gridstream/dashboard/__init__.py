"""GridStream dashboard."""
