"""Command groups of the ``gridstream`` CLI; each module has ``register(app: typer.Typer)``."""
