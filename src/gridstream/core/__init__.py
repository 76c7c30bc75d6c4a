"""GridStream core."""
