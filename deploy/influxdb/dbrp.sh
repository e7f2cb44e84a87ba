#!/bin/sh
# quantrac: run once by the influxdb image after its first setup (mounted in
# /docker-entrypoint-initdb.d by docker-compose.yml). InfluxQL — what the collector, the API and
# the Grafana boards read with — reaches an InfluxDB 2 bucket only through a DBRP mapping: the
# bucket under a database of the same name, its default retention policy "autogen"
# (docs/storage.md, "InfluxDB: v1 and v2 modes"). The image's entrypoint exports the ids of
# what its setup made and leaves the influx CLI logged in with the admin token.
set -eu
influx v1 dbrp create \
    --org "${DOCKER_INFLUXDB_INIT_ORG}" \
    --bucket-id "${DOCKER_INFLUXDB_INIT_BUCKET_ID}" \
    --db "${DOCKER_INFLUXDB_INIT_BUCKET}" \
    --rp autogen \
    --default
echo "quantrac: InfluxQL database ${DOCKER_INFLUXDB_INIT_BUCKET} maps to bucket ${DOCKER_INFLUXDB_INIT_BUCKET_ID}"
