"""Configuration entities: Clara AE titles, sources and destinations, live in SQLite.

seed: section of the settings --seed.py--> db/ConfigRepository
api/config_routes --> db/ConfigRepository --reload--> registry.AeRegistry
entities.py: Clara's JSON shapes and their validation, one set of rules for the seed and the REST API
registry.AeRegistry: the live, in-memory view the SCP and the export read (sync, cheap, on the loop)
"""
