"""Data sources: the EirGrid API client, recorded-file replay and the grid simulator."""
