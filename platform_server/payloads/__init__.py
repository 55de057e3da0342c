"""Payloads: folders of files under the data directory, their names checked against path traversal."""
