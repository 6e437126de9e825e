"""Monitoring config for teams that outgrow one machine: Prometheus alerting rules and a Grafana dashboard."""
