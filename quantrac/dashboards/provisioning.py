"""Grafana's provisioning files for the boards (pure text).

The production stack mounts ``dashboards/provisioning`` at ``/etc/grafana/provisioning`` and one
flavour's JSON (``dashboards/influxdb`` or ``dashboards/victoriametrics``) at
:data:`DASHBOARDS_PATH`. Grafana fills ``$NAME`` from its environment when it reads these files:
the URLs and the token are never written here (docs/dashboards.md lists the variables).
"""

from __future__ import annotations

from quantrac.dashboards.sdk import CATALOG_UID, INFLUXDB_UID, TESTDATA_TYPE, VICTORIAMETRICS_UID

DASHBOARDS_PATH = "/var/lib/grafana/dashboards/quantrac"
FOLDER_TITLE = "Quan trắc môi trường"
FOLDER_UID = "quantrac"
DATASOURCES_FILE = "provisioning/datasources/quantrac.yaml"
PROVIDERS_FILE = "provisioning/dashboards/quantrac.yaml"

# Every environment variable the provisioning files read, with what it holds.
ENVIRONMENT = {
    "INFLUXDB_URL": "InfluxDB's URL as Grafana reaches it, e.g. http://influxdb:8086",
    "INFLUXDB_DATABASE": "the InfluxQL database: the DBRP-mapped name of the bucket on 2.x, "
    "the database on 1.x (quantrac)",
    "INFLUXDB_TOKEN": "a read token (2.x/3.x), or user:password on 1.8+ with authentication",
    "VICTORIAMETRICS_URL": "VictoriaMetrics' URL, e.g. http://victoriametrics:8428",
}
# Stations poll every minute by default: a narrower step would draw gaps between points.
MIN_INTERVAL = "1m"

HEADER = (
    "# Written by `quantrac dashboards build` (quantrac/dashboards/provisioning.py): edit that,\n"
    "# not this file. Grafana replaces $NAME by the environment variable when it starts.\n"
)


def datasources_yaml() -> str:
    """The two stores, by the uids the boards name, and the catalog's TestData source."""
    return (
        HEADER
        + f"""apiVersion: 1

datasources:
  # InfluxDB 1.x, or 2.x / 3.x through InfluxQL (2.x needs the DBRP mapping of the bucket).
  - name: quantrac InfluxDB
    uid: {INFLUXDB_UID}
    type: influxdb
    access: proxy
    url: $INFLUXDB_URL
    editable: false
    jsonData:
      dbName: $INFLUXDB_DATABASE
      httpMode: POST
      timeInterval: {MIN_INTERVAL}
      httpHeaderName1: Authorization
    secureJsonData:
      httpHeaderValue1: Token $INFLUXDB_TOKEN

  # VictoriaMetrics through Grafana's Prometheus datasource (PromQL and MetricsQL).
  - name: quantrac VictoriaMetrics
    uid: {VICTORIAMETRICS_UID}
    type: prometheus
    access: proxy
    url: $VICTORIAMETRICS_URL
    editable: false
    jsonData:
      httpMethod: POST
      timeInterval: {MIN_INTERVAL}

  # The station catalog (names, districts, coordinates) as a table for the map: no server.
  - name: quantrac danh mục trạm
    uid: {CATALOG_UID}
    type: {TESTDATA_TYPE}
    access: proxy
    editable: false
"""
    )


def providers_yaml() -> str:
    """One file provider: the boards in their folder, read-only in the UI (code is the source)."""
    return (
        HEADER
        + f"""apiVersion: 1

providers:
  - name: quantrac
    orgId: 1
    folder: "{FOLDER_TITLE}"
    folderUid: {FOLDER_UID}
    type: file
    disableDeletion: true
    allowUiUpdates: false
    updateIntervalSeconds: 60
    options:
      path: {DASHBOARDS_PATH}
      foldersFromFilesStructure: false
"""
    )
