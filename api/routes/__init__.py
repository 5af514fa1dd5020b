"""The routes of API v1, one module per domain; ``api.main`` mounts them under ``/v1``."""
