"""The HTTP endpoints: a Starlette app with core/v1 `pods`, `pods/log`, `services`, `secrets` and
`persistentvolumeclaims`, plus `/version` and the `/api` discovery documents. Handlers run on the fake's event
loop, next to the store and the kubelet."""

from __future__ import annotations

import asyncio
import base64
import json
import random
import string
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.kube_api.kubelet import TERMINAL
from tests.kube_api.selectors import Matcher, field_selector, label_selector
from tests.kube_api.status import KINDS, REASONS, ApiFailure, already_exists, bad_request, validate
from tests.kube_api.store import Key, now_rfc3339

if TYPE_CHECKING:
    from tests.kube_api.server import FakeKubernetes

RESOURCES = tuple(KINDS)
VERSION = {
    "major": "1", "minor": "31", "gitVersion": "v1.31.0", "gitCommit": "0" * 40, "gitTreeState": "clean",
    "buildDate": "2024-08-13T07:28:49Z", "goVersion": "go1.22.5", "compiler": "gc", "platform": "linux/amd64",
}  # fmt: skip


def _truthy(value: str | None) -> bool:
    # Go's strconv.ParseBool, which the apiserver uses for watch=, follow=, timestamps=.
    return value in ("1", "t", "T", "true", "TRUE", "True")


def _integer(params: Any, name: str) -> int | None:
    value = params.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise bad_request(f"{name}: invalid value {value!r}: must be an integer") from None


def _line(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode() + b"\n"


def _qos_class(containers: list[dict[str, Any]]) -> str:
    resources = [c.get("resources") or {} for c in containers]
    if not any(r.get("requests") or r.get("limits") for r in resources):
        return "BestEffort"
    # Guaranteed: every container limits cpu and memory, and requests (defaulted to the limits) equal them.
    guaranteed = all(
        r.get("limits", {}).get(k) is not None and r.get("requests", {}).get(k) == r["limits"][k]
        for r in resources
        for k in ("cpu", "memory")
    )
    return "Guaranteed" if guaranteed else "Burstable"


def _pod_defaults(pod: dict[str, Any]) -> None:
    """What the apiserver's defaulting adds to a new pod, and the status it starts with."""
    spec = pod["spec"]
    defaults = {"restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst"}
    defaults |= {"schedulerName": "default-scheduler", "serviceAccountName": "default", "securityContext": {}}
    defaults |= {"enableServiceLinks": True, "priority": 0, "preemptionPolicy": "PreemptLowerPriority"}
    pod["spec"] = defaults | spec
    for container in spec["containers"]:
        image = container["image"]
        latest = ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest")
        container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        resources = container.setdefault("resources", {})
        if resources.get("limits"):  # requests default to the limits
            resources["requests"] = resources["limits"] | resources.get("requests", {})
    pod["status"] = {"phase": "Pending", "qosClass": _qos_class(spec["containers"])}


def _secret_defaults(secret: dict[str, Any]) -> None:
    """`data` as the apiserver stores it: base64 checked (a 400 as its JSON decoding gives), `stringData` merged in
    (and gone), `type` Opaque unless set."""
    data = secret.get("data") or {}
    for value in data.values():
        try:
            base64.b64decode(value, validate=True)
        except (TypeError, ValueError):
            raise bad_request('Secret in version "v1" cannot be handled as a Secret: illegal base64 data') from None
    data |= {key: base64.b64encode(str(value).encode()).decode() for key, value in
             (secret.pop("stringData", None) or {}).items()}
    secret["data"] = data
    secret.setdefault("type", "Opaque")


class Api:
    """The endpoints. Handlers run on the fake's loop, so they use the store and kubelet without locks."""

    def __init__(self, fake: FakeKubernetes) -> None:
        self.fake = fake
        self.store = fake.store
        self.kubelet = fake.kubelet
        self.cluster_ips = iter(f"10.96.{n // 250}.{n % 250 + 2}" for n in range(8, 62500))
        routes = [
            Route("/version", self.version),
            Route("/api", self.api_versions),
            Route("/api/v1", self.api_resources),
            Route("/api/v1/{resource}", self.all_namespaces),
            Route("/api/v1/namespaces/{namespace}/{resource}", self.collection, methods=["GET", "POST", "DELETE"]),
            Route("/api/v1/namespaces/{namespace}/{resource}/{name}", self.item, methods=["GET", "DELETE"]),
            Route("/api/v1/namespaces/{namespace}/pods/{name}/log", self.log),
        ]
        handlers = {ApiFailure: self.failure, HTTPException: self.http_error}
        self.app = Starlette(routes=routes, exception_handlers=handlers)  # type: ignore[arg-type]
        self.app.router.redirect_slashes = False  # the apiserver answers 404, not a redirect

    # -- errors and discovery

    async def failure(self, request: Request, exc: ApiFailure) -> Response:
        return JSONResponse(exc.status(), exc.code)

    async def http_error(self, request: Request, exc: HTTPException) -> Response:
        message = "the server could not find the requested resource"
        if exc.status_code == 405:
            message = "the server does not allow this method on the requested resource"
        failure = ApiFailure(exc.status_code, REASONS.get(exc.status_code, "Unknown"), message, {})
        return JSONResponse(failure.status(), exc.status_code)

    async def version(self, request: Request) -> Response:
        return JSONResponse(VERSION)

    async def api_versions(self, request: Request) -> Response:
        address = {"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{self.fake.port}"}
        return JSONResponse({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [address]})

    async def api_resources(self, request: Request) -> Response:
        verbs = ["create", "delete", "deletecollection", "get", "list", "watch"]
        resources = [
            {"name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod", "verbs": verbs},
            {"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod", "verbs": ["get"]},
            {"name": "services", "singularName": "service", "namespaced": True, "kind": "Service", "verbs": verbs},
            {"name": "secrets", "singularName": "secret", "namespaced": True, "kind": "Secret", "verbs": verbs},
            {"name": "persistentvolumeclaims", "singularName": "persistentvolumeclaim", "namespaced": True,
             "kind": "PersistentVolumeClaim", "verbs": verbs},
        ]
        return JSONResponse({"kind": "APIResourceList", "groupVersion": "v1", "resources": resources})

    # -- collections: list, watch, create, deletecollection

    @staticmethod
    def _resource(request: Request) -> str:
        resource: str = request.path_params["resource"]
        if resource not in RESOURCES:
            raise HTTPException(404)
        return resource

    async def all_namespaces(self, request: Request) -> Response:
        if request.method != "GET":
            raise HTTPException(405)
        return self._list_or_watch(request, self._resource(request), None)

    async def collection(self, request: Request) -> Response:
        resource, namespace = self._resource(request), request.path_params["namespace"]
        if request.method == "POST":
            return await self._create(request, resource, namespace)
        if request.method == "DELETE":
            return await self._delete_collection(request, resource, namespace)
        return self._list_or_watch(request, resource, namespace)

    def _filter(self, request: Request, resource: str, namespace: str | None) -> Matcher:
        labels = label_selector(request.query_params.get("labelSelector"))
        fields = field_selector(resource, request.query_params.get("fieldSelector"))
        return lambda obj: namespace in (None, obj["metadata"]["namespace"]) and labels(obj) and fields(obj)

    def _list_or_watch(self, request: Request, resource: str, namespace: str | None) -> Response:
        visible = self._filter(request, resource, namespace)
        params = request.query_params
        if _truthy(params.get("watch")):
            events = self._watch(resource, visible, params.get("resourceVersion"), _integer(params, "timeoutSeconds"))
            return StreamingResponse(events, media_type="application/json")
        items = [obj for obj in self.store.items_of(resource, namespace) if visible(obj)]
        return JSONResponse(self._page(resource, items, _integer(params, "limit"), params.get("continue")))

    def _page(self, resource: str, items: list[dict[str, Any]], limit: int | None, token: str | None) -> dict[str, Any]:
        """A list body; with `limit`, one chunk and a `continue` token naming the last key returned."""
        metadata: dict[str, Any] = {"resourceVersion": str(self.store.rv)}
        if token:
            try:
                state = json.loads(base64.urlsafe_b64decode(token))
            except ValueError:
                raise bad_request("continue key is not valid") from None
            metadata["resourceVersion"] = state["rv"]
            items = [obj for obj in items if self._key(resource, obj) > tuple(state["start"])]
        if limit and len(items) > limit:
            last = self._key(resource, items[limit - 1])
            state = {"rv": metadata["resourceVersion"], "start": last}
            metadata["continue"] = base64.urlsafe_b64encode(json.dumps(state).encode()).decode()
            metadata["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        # Items of a list carry no kind/apiVersion: the list's kind says it.
        bare = [{k: v for k, v in obj.items() if k not in ("kind", "apiVersion")} for obj in items]
        return {"kind": KINDS[resource] + "List", "apiVersion": "v1", "metadata": metadata, "items": bare}

    @staticmethod
    def _key(resource: str, obj: dict[str, Any]) -> Key:
        return resource, obj["metadata"]["namespace"], obj["metadata"]["name"]

    async def _watch(
        self, resource: str, visible: Matcher, since: str | None, timeout: int | None
    ) -> AsyncIterator[bytes]:
        """Newline-delimited watch events. Without a resourceVersion (or "0") it starts with a synthetic ADDED per
        matching object; from a resourceVersion it replays the history after it (ERROR 410 if compacted)."""
        queue = self.store.subscribe()  # before the snapshot below, with no await between: no event is missed
        try:
            if since in (None, "", "0"):
                backlog = [("ADDED", obj) for obj in self.store.items_of(resource) if visible(obj)]
            else:
                try:
                    events = self.store.events_after(int(since))
                except (ApiFailure, ValueError) as exc:
                    failure = exc if isinstance(exc, ApiFailure) else bad_request(f"invalid resourceVersion {since}")
                    yield _line({"type": "ERROR", "object": failure.status()})
                    return
                seen = [(e.as_seen_by(visible), e.obj) for e in events if e.resource == resource]
                backlog = [(kind, obj) for kind, obj in seen if kind]
            for kind, obj in backlog:
                yield _line({"type": kind, "object": obj})
            # timeoutSeconds: the apiserver ends the stream cleanly (per get: a timeout must not span a yield).
            deadline = None if timeout is None else asyncio.get_running_loop().time() + timeout
            while True:
                left = None if deadline is None else deadline - asyncio.get_running_loop().time()
                try:
                    event = await asyncio.wait_for(queue.get(), left)
                except TimeoutError:
                    return
                if event.resource == resource and (seen_as := event.as_seen_by(visible)):
                    yield _line({"type": seen_as, "object": event.obj})
        finally:
            self.store.unsubscribe(queue)

    async def _create(self, request: Request, resource: str, namespace: str) -> Response:
        obj = await self._body(request)
        if not isinstance(obj, dict):
            raise bad_request("the body of the request was in an unknown format")
        metadata = obj.setdefault("metadata", {})
        if metadata.get("namespace") not in (None, namespace):
            raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
        if not metadata.get("name") and metadata.get("generateName"):
            suffix = "".join(random.choices(string.ascii_lowercase + string.digits, k=5))
            metadata["name"] = metadata["generateName"] + suffix
        validate(resource, obj)
        for server_owned in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp"):
            metadata.pop(server_owned, None)
        obj |= {"kind": KINDS[resource], "apiVersion": "v1"}
        metadata["namespace"] = namespace
        if resource == "pods":
            _pod_defaults(obj)
        elif resource == "secrets":
            _secret_defaults(obj)
        else:
            self._service_defaults(obj)
        if request.query_params.get("dryRun") == "All":
            if (resource, namespace, metadata["name"]) in self.store.objects:
                raise already_exists(resource, metadata["name"])
            return JSONResponse(obj, 201)
        stored = self.store.create(resource, obj)
        if resource == "pods":
            self.kubelet.admit(stored)
        return JSONResponse(stored, 201)

    def _service_defaults(self, service: dict[str, Any]) -> None:
        spec = service["spec"]
        spec.setdefault("type", "ClusterIP")
        if spec.get("clusterIP") != "None":
            spec["clusterIP"] = next(self.cluster_ips)
        spec |= {"clusterIPs": [spec["clusterIP"]], "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack"}
        spec.setdefault("sessionAffinity", "None")
        spec.setdefault("internalTrafficPolicy", "Cluster")
        for port in spec.get("ports", []):
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port["port"])
        service["status"] = {"loadBalancer": {}}

    @staticmethod
    async def _body(request: Request) -> Any:
        body = await request.body()
        if not body.strip():
            return None
        try:
            return json.loads(body)
        except ValueError as exc:
            raise bad_request(f"json: cannot unmarshal the body: {exc}") from None

    # -- single objects: get, delete

    async def item(self, request: Request) -> Response:
        resource, namespace = self._resource(request), request.path_params["namespace"]
        obj = self.store.get(resource, namespace, request.path_params["name"])
        if request.method == "GET":
            return JSONResponse(obj)
        options = await self._delete_options(request)
        if options.get("dryRun"):
            return JSONResponse(obj)
        return JSONResponse(self._delete(resource, obj, options))

    async def _delete_options(self, request: Request) -> dict[str, Any]:
        """DeleteOptions from the JSON body when there is one, else from the query (as the apiserver reads them)."""
        body = await self._body(request)
        if body is None:
            params = request.query_params
            body = {k: params[k] for k in ("gracePeriodSeconds", "propagationPolicy", "dryRun") if k in params}
        if not isinstance(body, dict):
            raise bad_request("the body of the request was in an unknown format")
        if body.get("gracePeriodSeconds") is not None:
            body["gracePeriodSeconds"] = _integer(body, "gracePeriodSeconds")
        if body.get("propagationPolicy") not in (None, "Orphan", "Background", "Foreground"):
            policy = body["propagationPolicy"]
            raise bad_request(f'propagationPolicy: Unsupported value: "{policy}": supported values: '
                              '"Foreground", "Background", "Orphan"')  # fmt: skip
        self.fake.delete_options.append(dict(body))
        return body

    def _grace_period(self, resource: str, obj: dict[str, Any], options: dict[str, Any]) -> int:
        """The pod strategy's: the asked or the pod's own period, but 0 for pods not on a node or already ended."""
        if resource != "pods":
            return 0
        grace = options.get("gracePeriodSeconds")
        if grace is None:
            grace = obj["spec"].get("terminationGracePeriodSeconds", 30)
        if not obj["spec"].get("nodeName") or obj["status"]["phase"] in TERMINAL:
            return 0
        return int(grace)

    def _delete(self, resource: str, obj: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
        key, uid = self._key(resource, obj), obj["metadata"]["uid"]
        grace = self._grace_period(resource, obj, options)
        foreground = options.get("propagationPolicy") == "Foreground"
        on_its_way = bool(obj["metadata"].get("deletionTimestamp"))
        if on_its_way and (grace > 0 or obj["metadata"].get("finalizers")):
            return obj  # already on its way out: the kubelet (and garbage collector) finish it
        if on_its_way or (grace == 0 and not foreground):
            self.kubelet.forget(uid)
            return self.store.remove(key, uid) or obj

        def terminating(new: dict[str, Any]) -> None:
            new["metadata"] |= {"deletionTimestamp": now_rfc3339(grace), "deletionGracePeriodSeconds": grace}
            if foreground:
                new["metadata"]["finalizers"] = [*new["metadata"].get("finalizers", []), "foregroundDeletion"]

        marked = self.store.update(key, uid, terminating) or obj
        if resource == "pods":
            self.kubelet.delete(key, uid, min(grace, self.fake.grace_cap))
        else:
            asyncio.get_running_loop().call_soon(self.store.remove, key, uid)
        return marked

    async def _delete_collection(self, request: Request, resource: str, namespace: str) -> Response:
        visible = self._filter(request, resource, namespace)
        options = await self._delete_options(request)
        matching = [obj for obj in self.store.items_of(resource, namespace) if visible(obj)]
        if not options.get("dryRun"):
            matching = [self._delete(resource, obj, options) for obj in matching]
        return JSONResponse(self._page(resource, matching, None, None))

    # -- pods/log

    async def log(self, request: Request) -> Response:
        namespace, name, params = request.path_params["namespace"], request.path_params["name"], request.query_params
        pod = self.store.get("pods", namespace, name)
        container = self._log_container(pod, params.get("container"))
        if _truthy(params.get("previous")):
            raise bad_request(f'previous terminated container "{container}" in pod "{name}" not found')
        if not pod["spec"].get("nodeName"):
            return PlainTextResponse("")  # the apiserver has no node to ask: an empty log, not an error
        self._check_started(pod, container)
        buffer = self.kubelet.log(pod["metadata"]["uid"], container)
        tail = _integer(params, "tailLines")
        start = 0 if tail is None else max(len(buffer.lines) - tail, 0)
        since = _integer(params, "sinceSeconds")
        not_before = datetime.now(UTC).timestamp() - since if since is not None else 0
        timestamps = _truthy(params.get("timestamps"))

        def render(stamp: float, text: str) -> str:
            prefix = datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z ") if timestamps else ""
            return f"{prefix}{text}\n"

        if not _truthy(params.get("follow")):
            lines = [render(*line) for line in buffer.lines[start:] if line[0] >= not_before]
            return PlainTextResponse("".join(lines))

        async def follow() -> AsyncIterator[str]:
            async for stamp, text in buffer.follow(start):
                if stamp >= not_before:
                    yield render(stamp, text)

        return StreamingResponse(follow(), media_type="text/plain")

    @staticmethod
    def _log_container(pod: dict[str, Any], container: str | None) -> str:
        names: list[str] = [c["name"] for c in pod["spec"]["containers"]]
        pod_name = pod["metadata"]["name"]
        if container is None:
            if len(names) > 1:
                choices = " ".join(names)
                raise bad_request(f"a container name must be specified for pod {pod_name}, choose one of: [{choices}]")
            return names[0]
        if container not in names:
            raise bad_request(f"container {container} is not valid for pod {pod_name}")
        return container

    @staticmethod
    def _check_started(pod: dict[str, Any], container: str) -> None:
        """The kubelet's answer (a 400) for a container that has printed nothing yet, in its wording."""
        pod_name = pod["metadata"]["name"]
        statuses = pod["status"].get("containerStatuses", [])
        state = next((cs["state"] for cs in statuses if cs["name"] == container), None)
        if state is None:
            raise bad_request(f'container "{container}" in pod "{pod_name}" is not available')
        if "waiting" not in state:
            return
        reason = state["waiting"].get("reason", "")
        explained = {"ErrImagePull": "image can't be pulled", "ImagePullBackOff": "trying and failing to pull image"}
        raise bad_request(f'container "{container}" in pod "{pod_name}" is waiting to start: '
                          f"{explained.get(reason, reason)}")  # fmt: skip
