"""Default ports and loopback addresses of the stack: one place, the numbers Clara Deploy uses.

Every service's settings default, the `clara` CLI, the launcher's hints and the register_results
operator read them from here, so a default cannot drift between a server and its clients.
"""

from __future__ import annotations

from typing import Final

LOOPBACK: Final = "127.0.0.1"

PLATFORM_PORT: Final = 30031  # Clara's Platform API (gRPC)
# The platform's Prometheus /metrics (HTTP): the port after the API's, unless configured (metrics.port).
PLATFORM_METRICS_PORT: Final = PLATFORM_PORT + 1
RESULTS_PORT: Final = 8088  # Clara's results service (REST)
DICOM_API_PORT: Final = 5000  # Clara's DICOM adapter configuration API (REST)
DICOM_SCP_PORT: Final = 11112  # DICOM (IANA's registered port for DICOM over TCP)
CONSOLE_PORT: Final = 8000  # the console (web app for people); not a Clara port

PLATFORM_ENDPOINT: Final = f"{LOOPBACK}:{PLATFORM_PORT}"
RESULTS_URL: Final = f"http://{LOOPBACK}:{RESULTS_PORT}"
DICOM_API_URL: Final = f"http://{LOOPBACK}:{DICOM_API_PORT}"
