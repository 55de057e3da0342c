"""Model-repository steps of the compatibility driver: what NVIDIA's ModelsClient 0.8.1.7 can and cannot do.

Four ModelsClient methods fail inside the client whatever the server does (wrong field or RPC names);
the driver asserts those known defects and drives the model repository through the client's own
generated stub and messages instead. Plain standard library plus `nvidia_clara`.
"""

from __future__ import annotations

import io
from typing import Any

from compat_steps import check, client_defect, unsupported
from nvidia_clara import ModelsClient, model_types
from nvidia_clara.grpc import models_pb2

MODEL = b"\x00model-weights\x01" * 5000
CHUNK = 64 * 1024  # what the client's own upload iterators send


def client_method_defects(models: ModelsClient) -> dict[str, Any]:
    """upload_model, download_model and delete_model fail before anything reaches the wire."""
    model_id = model_types.ModelId("0" * 32)
    details = model_types.ModelDetails(model_id=model_id, name="m", model_type=model_types.ModelType.PyTorch)
    return {"outcome": "client-defect", "defects": {
        "upload_model": client_defect(lambda: models.upload_model(details, io.BytesIO(MODEL)), ValueError, "tags"),
        "download_model": client_defect(lambda: models.download_model(model_id, io.BytesIO()),
                                        AttributeError, "Download"),
        "delete_model": client_defect(lambda: models.delete_model(model_id), ValueError, "catalog_id"),
    }}


def repository_via_stub(models: ModelsClient, timeout: float) -> dict[str, Any]:
    """Upload, list, download, metadata and delete with the client's stub, messages and header."""
    stub = models._stub
    header = models.get_request_header()
    details = models_pb2.ModelDetails(name="compat-model", type=models_pb2.MODEL_TYPE_PY_TORCH)
    requests = [models_pb2.ModelsUploadModelRequest(header=header, details=details, data=MODEL[i:i + CHUNK])
                for i in range(0, len(MODEL), CHUNK)]
    models.check_response_header(stub.UploadModel(iter(requests), timeout=timeout).header)
    listed = [m for r in stub.ListModels(models_pb2.ModelsListModelsRequest(header=header), timeout=timeout)
              for m in r.models]
    mine = [m for m in listed if m.name == "compat-model"]
    check(len(mine) == 1, f"listed models: {[m.name for m in listed]}")
    model_id = model_types.ModelId(mine[0].model_id.value)
    # With a model in the repository, ModelsClient.list_models cannot parse any answer (client defect).
    listing = client_defect(lambda: models.list_models(timeout=timeout), AttributeError, "model_id")
    request = models_pb2.ModelsDownloadModelRequest(header=header, model_id=model_id.to_grpc_value())
    data = b"".join(r.data for r in stub.DownloadModel(request, timeout=timeout))
    check(data == MODEL, f"downloaded {len(data)} bytes of a {len(MODEL)}-byte model")
    added = dict(models.add_metadata(model_id, {"task": "seg"}, timeout=timeout))
    remaining = dict(models.remove_metadata(model_id, ["task"], timeout=timeout))
    check(added.get("task") == "seg" and "task" not in remaining, f"metadata {added} then {remaining}")
    deleted = stub.DeleteModel(models_pb2.ModelsDeleteModelRequest(header=header, model_id=model_id.to_grpc_value()),
                               timeout=timeout)
    models.check_response_header(deleted.header)
    left = [m.name for r in stub.ListModels(models_pb2.ModelsListModelsRequest(header=header), timeout=timeout)
            for m in r.models]
    check("compat-model" not in left, f"deleted model still listed: {left}")
    return {"model_id": model_id.value, "bytes": len(data), "list_models_client_defect": listing}


def catalogs(models: ModelsClient, timeout: float) -> dict[str, Any]:
    """Catalogs and instances (Triton model sets) are a documented gap: refused with a reason."""
    return {"outcome": "unsupported",
            "create_catalog": unsupported(lambda: models.create_catalog(timeout=timeout), "not supported")}
