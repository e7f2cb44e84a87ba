"""Modbus stations: hubs that own a connection, and the station driver built on a profile."""
