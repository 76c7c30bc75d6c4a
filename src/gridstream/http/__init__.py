"""FastAPI app factory shared by every service: /health, /ready, /metrics, token auth."""
