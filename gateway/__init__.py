"""quantrac gateway: reads stations (Modbus; later MQTT, TT10 files) and publishes Reading batches.

The gateway owns the wire contract (:mod:`gateway.model`, :mod:`gateway.wire`) and the bus
(:mod:`gateway.bus`); the collector and alerting import them, never the reverse.
"""
