"""`Status` errors as the API server sends them, and the object validation that produces 422 `Invalid`.

The wording follows the apiserver's (k8s.io/apimachinery `errors` and `validation`), because clients
(and the executor's error messages) show it to people.
"""

from __future__ import annotations

import re
from typing import Any

# Kind of each resource, as named in `Invalid` errors ("Pod \"x\" is invalid: ...").
KINDS = {"pods": "Pod", "services": "Service", "secrets": "Secret", "persistentvolumeclaims": "PersistentVolumeClaim"}

DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")

SUBDOMAIN_HELP = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    f"'{DNS1123_SUBDOMAIN.pattern}')"
)
LABEL_HELP = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end "
    f"with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    f"'{DNS1123_LABEL.pattern}')"
)
DNS1035_HELP = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, "
    "and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is "
    f"'{DNS1035_LABEL.pattern}')"
)
LABEL_VALUE_HELP = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
    f"validation is '{LABEL_VALUE.pattern}')"
)
CONFIG_KEY_HELP = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  "
    f"or 'key-name', regex used for validation is '{CONFIG_KEY.pattern}')"
)
QUALIFIED_NAME_HELP = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    f"'{QUALIFIED_NAME.pattern}')"
)

REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


class ApiFailure(Exception):
    """An error the fake answers with: `code` as the HTTP status, `status()` as the body."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure"}
        body |= {"message": self.message, "reason": self.reason}
        if self.details is not None:
            body["details"] = self.details
        return body | {"code": self.code}


def not_found(resource: str, name: str) -> ApiFailure:
    return ApiFailure(404, "NotFound", f'{resource} "{name}" not found', {"name": name, "kind": resource})


def already_exists(resource: str, name: str) -> ApiFailure:
    return ApiFailure(409, "AlreadyExists", f'{resource} "{name}" already exists', {"name": name, "kind": resource})


def bad_request(message: str) -> ApiFailure:
    return ApiFailure(400, "BadRequest", message)


def expired(requested: int, oldest: int) -> ApiFailure:
    # What a watch gets (as an ERROR event) when etcd has compacted the history it asked to resume from.
    return ApiFailure(410, "Expired", f"too old resource version: {requested} ({oldest})")


def invalid(resource: str, name: str, causes: list[tuple[str, str]]) -> ApiFailure:
    """422 Invalid for `causes`: (field, "Invalid value: ..."/"Required value: ...") pairs."""
    kind = KINDS[resource]
    texts = [f"{field}: {text}" for field, text in causes]
    summary = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    reasons = {"Required": "FieldValueRequired", "Invalid": "FieldValueInvalid"}
    details = {
        "name": name,
        "kind": kind,
        "causes": [
            {"reason": reasons.get(text.split(" ", 1)[0], "FieldValueInvalid"), "message": text, "field": field}
            for field, text in causes
        ],
    }
    return ApiFailure(422, "Invalid", f'{kind} "{name}" is invalid: {summary}', details)


def validate(resource: str, obj: dict[str, Any]) -> None:
    """Raise 422 Invalid for what the apiserver would refuse in the parts the fake cares about."""
    metadata = obj.get("metadata") or {}
    name = metadata.get("name") or ""
    causes = _name_causes(resource, name) + _label_causes(metadata.get("labels") or {})
    spec = obj.get("spec") or {}
    if resource == "pods":
        causes += _pod_spec_causes(spec)
    elif resource == "services":
        causes += _service_spec_causes(spec)
    elif resource == "secrets":
        causes += _secret_causes(obj)
    if causes:
        raise invalid(resource, name, causes)


def _name_causes(resource: str, name: str) -> list[tuple[str, str]]:
    if not name:
        return [("metadata.name", "Required value: name or generateName is required")]
    if resource == "services":
        # Service names become DNS labels (<name>.<namespace>.svc), so they are DNS-1035 labels, not subdomains.
        if len(name) > 63:
            return [("metadata.name", f'Invalid value: "{name}": must be no more than 63 characters')]
        if not DNS1035_LABEL.fullmatch(name):
            return [("metadata.name", f'Invalid value: "{name}": {DNS1035_HELP}')]
        return []
    if len(name) > 253:
        return [("metadata.name", f'Invalid value: "{name}": must be no more than 253 characters')]
    if not DNS1123_SUBDOMAIN.fullmatch(name):
        return [("metadata.name", f'Invalid value: "{name}": {SUBDOMAIN_HELP}')]
    return []


def _label_causes(labels: dict[str, Any]) -> list[tuple[str, str]]:
    causes = []
    for key, value in labels.items():
        prefix, _, part = key.rpartition("/")
        if not QUALIFIED_NAME.fullmatch(part) or len(part) > 63:
            causes.append(("metadata.labels", f'Invalid value: "{key}": {QUALIFIED_NAME_HELP}'))
        elif prefix and (len(prefix) > 253 or not DNS1123_SUBDOMAIN.fullmatch(prefix)):
            causes.append(("metadata.labels", f'Invalid value: "{key}": prefix part {SUBDOMAIN_HELP}'))
        if not isinstance(value, str):
            causes.append(("metadata.labels", f'Invalid value: "{value}": label values must be strings'))
        elif len(value) > 63:
            causes.append(("metadata.labels", f'Invalid value: "{value}": must be no more than 63 characters'))
        elif not LABEL_VALUE.fullmatch(value):
            causes.append(("metadata.labels", f'Invalid value: "{value}": {LABEL_VALUE_HELP}'))
    return causes


def _pod_spec_causes(spec: dict[str, Any]) -> list[tuple[str, str]]:
    containers = spec.get("containers") or []
    if not containers:
        return [("spec.containers", "Required value")]
    causes = []
    for i, container in enumerate(containers):
        name = container.get("name") or ""
        if not name:
            causes.append((f"spec.containers[{i}].name", "Required value"))
        elif len(name) > 63 or not DNS1123_LABEL.fullmatch(name):
            causes.append((f"spec.containers[{i}].name", f'Invalid value: "{name}": {LABEL_HELP}'))
        if not container.get("image"):
            causes.append((f"spec.containers[{i}].image", "Required value"))
    return causes


def _secret_causes(secret: dict[str, Any]) -> list[tuple[str, str]]:
    """Keys of `data` and `stringData`: the rules of ConfigMap keys."""
    causes = []
    for part in ("data", "stringData"):
        for key in secret.get(part) or {}:
            if len(key) > 253 or not CONFIG_KEY.fullmatch(key):
                causes.append((f"{part}[{key}]", f'Invalid value: "{key}": {CONFIG_KEY_HELP}'))
    return causes


def _service_spec_causes(spec: dict[str, Any]) -> list[tuple[str, str]]:
    if spec.get("clusterIP") == "None":
        return []  # a headless service needs no ports
    ports = spec.get("ports") or []
    if not ports:
        return [("spec.ports", "Required value")]
    return [
        (f"spec.ports[{i}].port", f"Invalid value: {port.get('port')}: must be between 1 and 65535, inclusive")
        for i, port in enumerate(ports)
        if not isinstance(port.get("port"), int) or not 0 < port["port"] < 65536
    ]
