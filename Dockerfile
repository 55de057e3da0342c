# One image for every openclara service; the command picks the service:
#   docker run openclara platform-server serve -f /etc/openclara/platform-server.yaml
#   docker run openclara results-service serve -f /etc/openclara/results-service.yaml
#   docker run openclara dicom-adapter serve -f /etc/openclara/dicom-adapter.yaml
FROM python:3.11-slim-bookworm

# dcmtk: dcmdump/echoscu for operators and troubleshooting inside the container.
RUN apt-get update \
    && apt-get install -y --no-install-recommends dcmtk tini \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --system --uid 1000 --home-dir /var/lib/openclara --create-home openclara
WORKDIR /opt/openclara
COPY pyproject.toml README.md ./
COPY openclara ./openclara
COPY platform_api ./platform_api
COPY platform_server ./platform_server
COPY pipeline_operators ./pipeline_operators
COPY clara_cli ./clara_cli
COPY results_service ./results_service
COPY dicom_adapter ./dicom_adapter
COPY config /etc/openclara
RUN pip install --no-cache-dir . && python -c "import platform_api, dicom_adapter, results_service, platform_server"

USER openclara
# The files in config/ listen on loopback (safe defaults on a workstation); in a container every
# service must listen on all interfaces to be reachable through published ports.
ENV CLARA_HOME=/var/lib/openclara \
    PYTHONUNBUFFERED=1 \
    CLARA_PLATFORM_SERVER__HOST=0.0.0.0 \
    CLARA_RESULTS_HOST=0.0.0.0 \
    CLARA_DICOM_SCP__HOST=0.0.0.0 \
    CLARA_DICOM_API__HOST=0.0.0.0
# 11112 DICOM, 5000 adapter REST, 8088 results service, 30031 platform gRPC
EXPOSE 11112 5000 8088 30031
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["openclara", "up", "--config-dir", "/etc/openclara"]
