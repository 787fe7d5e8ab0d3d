"""Orderly's telemetry: Prometheus metrics and OpenTelemetry traces."""
