"""GridStream commands."""
