"""MQTT input: stations that publish their own messages become Readings (issue 4).

- :mod:`gateway.mqtt_input.profile` — the payload profile (``protocol: mqtt``), checked at load;
- :mod:`gateway.mqtt_input.payload` — pure decoding: topic + bytes → readings or problems;
- :mod:`gateway.mqtt_input.driver` — the streaming driver on the stations' broker.

This package's ``__init__`` imports nothing, so that ``gateway.profiles`` can load the profile
model without pulling in the MQTT client.
"""
