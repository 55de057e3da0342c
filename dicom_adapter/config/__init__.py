"""Configuration entities: Clara AE titles, sources and destinations, live in SQLite.

seed: section of the settings --seed.py (validated like a REST body)--> db/ConfigRepository
api/config_routes --> db/ConfigRepository --reload--> registry.AeRegistry
registry.AeRegistry: the live, in-memory view the SCP and the export read (sync, cheap, on the loop)
"""
