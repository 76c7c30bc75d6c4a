"""GridStream http."""
