"""order-sync's own HTTP server: health, readiness and metrics (issue 17, point 4)."""
