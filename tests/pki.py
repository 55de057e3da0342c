"""A test PKI made with openssl: a CA, a server certificate for 127.0.0.1/localhost, a client certificate.

Used by every TLS test (DICOM TLS, HTTPS, gRPC); `pki.ca_crt` is `folder/ca.crt` and so on."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Pki:
    folder: Path

    def __getattr__(self, name: str) -> Path:  # pki.ca_crt -> folder/ca.crt
        return self.folder / name.replace("_", ".")


def _openssl(*args: str, folder: Path) -> None:
    done = subprocess.run(["openssl", *args], cwd=folder, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def make_pki(folder: Path, server_name: str = "server") -> Pki:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, as a hospital PKI would issue."""
    assert shutil.which("openssl"), "openssl is needed to make the test certificates"
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "ca.crt").exists():
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days",
                 "2", "-subj", "/CN=openclara test CA", folder=folder)
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name, extension in ((server_name, ["-extfile", "san.ext"]), ("client", [])):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj",
                 f"/CN={name}", folder=folder)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", f"{name}.crt", "-days", "2", *extension, folder=folder)
    return Pki(folder)
