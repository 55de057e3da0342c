"""The `clara` command: Clara-style verbs for the platform plus the dicom, results and platform plugins.

Data flow: `main.cli` parses global options into a `CliContext` (endpoints from
`~/.clara/config.yaml` + env, output format) and dispatches to commands registered by the plugin
modules (`pipelines_jobs` for create/list/describe/start/cancel/logs/download/model, `platform`,
`results`, `dicom`). Commands call the services' clients and print through `output`
(tables for people, `-O wide`, and `-O json` in one convention for scripts). `daemon` starts services
in the background with a pid file and waits until they are ready; `service_runs` says who runs a
service here (`clara <service> start` or `openclara up`), prints its log and picks the hint when it
does not answer.
"""
