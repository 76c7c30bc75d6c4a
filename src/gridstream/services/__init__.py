"""GridStream services."""
