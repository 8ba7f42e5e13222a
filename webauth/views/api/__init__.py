"""The REST API under /api/v1: bearer tokens, JSON, problem details, an OpenAPI 3.1 contract (docs/api.md)."""
