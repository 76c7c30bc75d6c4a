"""GridStream store."""
