"""Executors run one operator: `base` defines the interface, `local` runs subprocesses, `kubernetes` is planned."""
