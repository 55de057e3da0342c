"""openclara: an open DICOM integration stack for imaging AI, compatible with NVIDIA Clara Deploy.

Map of the whole stack (one package per deployable concern)::

    PACS --C-STORE--> dicom_adapter        SCP per AE title -> fsync'd spool -> grouped payloads
                          |  gRPC (platform_api.PlatformClient)
                          v
                      platform_server      pipelines, jobs, payloads, scheduler, executors
                          |  operator "register_results" (pipeline_operators) --REST-->
                          v
                      results_service      durable task queue per agent
                          |  lease / success / failure
                          v
                      dicom_adapter export agent --C-STORE--> destination PACS

This package holds only what every service shares, and imports none of them (the one-command
embedded stack that does, `openclara up`, lives in `launcher`): structlog set-up (`logs`), the YAML +
env settings loader (`settings`), the start/stop lifecycle with SIGTERM draining (`lifecycle`), the
shared service command line (`service_cli`), the REST services' guards (`http_guards`: body size, request
head, Host allow-list), the length limits of payload file names (`payload_names`), and one implementation
of each piece of infrastructure the services had written separately: the default ports (`ports`),
the files under `$CLARA_HOME/run` that say who runs a service and where its log is (`run_files`),
retry delays (`backoff`), opening a SQLite database with WAL, pragmas and schema (`sqlite`) and the
queue worker that writes in batches (`batches`).
"""
