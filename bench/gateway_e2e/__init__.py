"""The gateway end to end, as a province runs it (issue 12).

    .venv/bin/python -m bench.gateway_e2e [--stations 200,500,1000,2000] [--interval 1]
                                          [--duration 30] [--warmup 8]

Per N: N real pymodbus servers (one endpoint per station, ten float32 values each, in their own
processes), a real Mosquitto, ``quantrac gateway`` with its durable outbox on the real disk and
``quantrac collector`` storing into SQLite and sending receipts — separate processes, as users
run them — and a subscriber in a process of its own counting what reaches the broker. Then, in
the same run and on the same servers and broker, the floor: a bare asyncio loop of pymodbus +
aiomqtt (no outbox, no QC, no scheduler), which is what Python can do at all.

Printed per N, for both: delivered / expected, gateway CPU s per 1000 readings, peak RSS, lag
from the poll slot to the subscriber (p50/p99), skipped polls; and the ratios. How to read them:
docs/benchmarks.md, "Gateway end to end".
"""
