"""Sales reports: the daily sales summary."""
