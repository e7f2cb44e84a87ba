"""The fault suite (issue 10): faults on real servers, what the store holds afterwards.

    .venv/bin/python -m bench.faults [--short] [--only broker,influxdb,…] [--check] [--keep]

One row per fault — expected / stored / duplicates / lost / time to catch up — with the services
run apart as users run them (``quantrac gateway``, ``quantrac collector``, ``quantrac alerting``
as subprocesses) on real Mosquitto, InfluxDB and VictoriaMetrics (tests/servers.py) on free
loopback ports. The bench plays MQTT stations (bench/faults/site/): it knows every reading it
published and the stations' broker acknowledged (expected), and reads the store at the end
(stored; duplicates are samples beyond one per (station, param, ts)). During the database
outages it also measures the clean stream and a flood warning injected mid-outage.

Modules: ``accounting`` (pure: tally, flow, table), ``rig`` (servers, services, listeners),
``rows`` (the faults and the run of a row). tests/test_faults.py runs the short profile.
"""
