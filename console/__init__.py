"""The console: one web app for people, a backend-for-frontend over the stack's three services.

    browser --(cookie session: `session`)--> console (FastAPI, server-rendered pages + JSON + SSE)
                                                |  the stack's admin token, never shown to the browser
                        +-----------------------+------------------------+
                        v                       v                        v
            Platform API (gRPC,        results service (REST,     DICOM adapter (REST,
            platform_api.client)       `backend.results`)         `backend.adapter`)
            + its /metrics (HTTP, `backend.platform_figures`: the overview's jobs, node, GPUs)

`app.create_app(settings)` builds the app; `server.ConsoleService` runs it under `openclara up`.
Browser assets come from npm at build time (scripts/build-web) into `static/vendor/`: no CDN.
"""
