"""Flask routes on the Dash server: JSON API, SSE stream, our own /metrics and /healthz."""
