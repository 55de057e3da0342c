# One image for every openclara service; the command picks the service:
#   docker run openclara platform-server serve -f /etc/openclara/platform-server.yaml
#   docker run openclara results-service serve -f /etc/openclara/results-service.yaml
#   docker run openclara dicom-adapter serve -f /etc/openclara/dicom-adapter.yaml
# Without a command it runs all three in one container (`openclara up`, the embedded stack).
# The Helm chart (deploy/helm/openclara) runs each service in its own pod from this image.
#
# The base is python:3.11-slim-bookworm by default; plain Debian bookworm (python3 is 3.11 there) works
# as well, for sites that only allow their own Debian base:
#   podman build -t openclara:0.1.0 .
#   podman build --build-arg BASE_IMAGE=debian:bookworm -t openclara:0.1.0 .
# openclara lives in a virtualenv (/opt/openclara/venv) on both, so Debian's externally-managed
# system Python is never touched. No secrets are needed or copied: PyPI and the Debian mirrors only.
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS base
# dcmtk: dcmdump/echoscu for operators run by the local executor and for troubleshooting; tini: PID 1,
# forwards SIGTERM (every service drains on it) and reaps operator processes. Debian's python3 only
# when the base has none (python:*-slim brings its own in /usr/local).
RUN set -eux; \
    packages="ca-certificates dcmtk tini"; \
    command -v python3 > /dev/null || packages="$packages python3 python3-venv"; \
    apt-get update; \
    apt-get install -y --no-install-recommends $packages; \
    rm -rf /var/lib/apt/lists/*

FROM base AS build
COPY pyproject.toml README.md /src/
COPY openclara /src/openclara
COPY launcher /src/launcher
COPY platform_api /src/platform_api
COPY platform_server /src/platform_server
COPY pipeline_operators /src/pipeline_operators
COPY clara_cli /src/clara_cli
COPY results_service /src/results_service
COPY dicom_adapter /src/dicom_adapter
# Bytecode that is not checked against source times: the chart's root file system is read-only, so
# stale .pyc files could never be rewritten and every start would compile again.
RUN python3 -m venv /opt/openclara/venv \
    && /opt/openclara/venv/bin/pip install --no-cache-dir --disable-pip-version-check /src \
    && /opt/openclara/venv/bin/python -m compileall -q -f -j 0 --invalidation-mode unchecked-hash \
        /opt/openclara/venv/lib > /dev/null \
    && /opt/openclara/venv/bin/python -c "import platform_api, dicom_adapter, results_service, platform_server"

FROM base
RUN useradd --uid 1000 --user-group --home-dir /var/lib/openclara --create-home --shell /usr/sbin/nologin openclara
COPY --from=build /opt/openclara/venv /opt/openclara/venv
COPY config /etc/openclara
LABEL org.opencontainers.image.title="openclara" \
      org.opencontainers.image.description="openclara platform server, results service and DICOM adapter" \
      org.opencontainers.image.licenses="Apache-2.0"

USER 1000:1000
WORKDIR /var/lib/openclara
# The files in config/ listen on loopback (safe defaults on a workstation); in a container every
# service must listen on all interfaces to be reachable through published ports. Environment
# variables win over a config file (-f), so the chart's files say 0.0.0.0 as well.
ENV PATH=/opt/openclara/venv/bin:$PATH \
    CLARA_HOME=/var/lib/openclara \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    CLARA_PLATFORM_SERVER__HOST=0.0.0.0 \
    CLARA_RESULTS_HOST=0.0.0.0 \
    CLARA_DICOM_SCP__HOST=0.0.0.0 \
    CLARA_DICOM_API__HOST=0.0.0.0
# 11112 DICOM, 5000 adapter REST, 8088 results service, 30031 platform gRPC
EXPOSE 11112 5000 8088 30031
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["openclara", "up", "--config-dir", "/etc/openclara"]
