"""Health: liveness and readiness for orchestrators."""
