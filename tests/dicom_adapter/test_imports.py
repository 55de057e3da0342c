"""The adapter loads pydicom (and numpy with it, 40 MB) only when it meets a data set that needs it."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("pydicom", "numpy", "pynetdicom")


def test_importing_the_adapter_loads_no_pydicom_numpy_or_pynetdicom() -> None:
    code = f"import sys, dicom_adapter.app; print([m for m in {HEAVY!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_an_ordinary_storage_class_is_known_without_pynetdicom() -> None:
    code = ("import sys; from dicom_adapter.dicom.contexts import is_storage; "
            "assert is_storage('1.2.840.10008.5.1.4.1.1.2'); print('pynetdicom' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "False", done.stdout + done.stderr
