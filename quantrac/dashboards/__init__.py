"""Grafana dashboards as code, generated from the site's station catalog (docs/dashboards.md).

``catalog`` reduces a site to what the boards show; ``flavours`` writes the queries in InfluxQL
and in PromQL/MetricsQL; ``boards/`` holds one module per board; ``build`` renders the files of
``dashboards/``; ``checks`` holds them to Grafana's rules; ``grafana`` substitutes variables and
macros as Grafana does, ``execute`` runs a panel's queries against a store; ``push`` uploads the
boards through Grafana's HTTP API.
"""
