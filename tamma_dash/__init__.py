"""tamma-dash: a real-time system-health dashboard for the Tamma platform."""

__version__ = "0.1.0"
