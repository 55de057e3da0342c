"""Drive a platform server with NVIDIA's own Python client (`nvidia-clara-client` 0.8.1.7), unchanged.

Run it with the interpreter of a virtualenv that has the client installed (see client_venv.py):

    .venv-clara-client/bin/python tests/compat/clara_client_driver.py 127.0.0.1:30031 WORKDIR [--keep-going] [--stop]

It uses only `nvidia_clara` (its clients, types and, where a ModelsClient method cannot work with any
server, its generated stubs) the way NVIDIA's examples do, and prints one JSON line per step:
`{"step": ..., "ok": true|false, "outcome": "ok"|"client-defect"|"unsupported", "detail"|"error": ...}`.
It exits 1 on the first failed step (or, with --keep-going, after all steps when any failed).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import time
from typing import Any

import compat_models
from compat_pipelines import SUMMARY_FILE, sleeper_pipeline, two_operator_pipeline
from compat_report import Report, State
from compat_steps import (
    Failed,
    check,
    number,
    poll,
    rooted_operator_files,
    when,
)
from nvidia_clara import (
    ClaraClient,
    JobsClient,
    ModelsClient,
    PayloadsClient,
    PipelinesClient,
    job_types,
    payload_types,
    pipeline_types,
)

RPC_TIMEOUT = 30.0
JOB_TIMEOUT = 60.0
CANCEL_WITHIN = 10.0
SMALL = b"hello clara"
LARGE = bytes(range(256)) * 800  # 204800 bytes: four of the client's 64 KiB chunks
SHARED = b"reusable reference data"
# Job states and statuses as the contract numbers them (the client hands back raw ints from Status/List).
PENDING, RUNNING, STOPPED = 1, 2, 3
HEALTHY, CANCELED = 1, 3
COMPLETED = 3


class Driver:
    def __init__(self, endpoint: str, workdir: str, keep_going: bool) -> None:
        host, port = endpoint.rsplit(":", 1)
        self.clara = ClaraClient(host, port)
        self.pipelines = PipelinesClient(host, port)
        self.jobs = JobsClient(host, port)
        self.payloads = PayloadsClient(host, port)
        self.models = ModelsClient(host, port)
        self.workdir = workdir
        self.state = State()
        self.report = Report(keep_going)

    # --- Clara ---------------------------------------------------------------------------------------

    def version(self) -> Any:
        info = self.clara.version(timeout=RPC_TIMEOUT)
        check(info is not None and isinstance(info.major, int), f"version answered {info!r}")
        return {"version": f"{info.major}.{info.minor}.{info.patch}", "label": info.label}

    def utilization(self) -> Any:
        snapshots = self.clara.list_utilization(timeout=RPC_TIMEOUT)
        return {"snapshots": len(snapshots), "gpus": [len(s.gpu_metrics) for s in snapshots]}

    # --- Pipelines -----------------------------------------------------------------------------------

    def create_pipeline(self) -> Any:
        text = two_operator_pipeline("compat-two-step")
        path = os.path.join(self.workdir, "compat-two-step.yaml")
        with open(path, "w") as out:
            out.write(text)
        self.state["definition"] = text
        # As NVIDIA's combined_example.py does: the definition's name is the local file path.
        with open(path) as handle:
            definition = pipeline_types.PipelineDefinition(name=path, content=handle.read())
        pipeline_id = self.pipelines.create_pipeline([definition], metadata={"owner": "compat"}, timeout=RPC_TIMEOUT)
        check(len(pipeline_id.value) == 32, f"pipeline id {pipeline_id.value!r} is not 32 hex digits")
        self.state["pipeline_id"] = pipeline_id
        return {"pipeline_id": pipeline_id.value}

    def list_pipelines(self) -> Any:
        found = [p for p in self.pipelines.list_pipelines(timeout=RPC_TIMEOUT)
                 if p.pipeline_id.value == self.state["pipeline_id"].value]
        check(len(found) == 1, "the new pipeline is not listed exactly once")
        check(found[0].name == "compat-two-step", f"listed name is {found[0].name!r}")
        check(dict(found[0].metadata).get("owner") == "compat", f"listed metadata is {dict(found[0].metadata)}")
        return {"name": found[0].name}

    def pipeline_details(self) -> Any:
        details = self.pipelines.pipeline_details(self.state["pipeline_id"], timeout=RPC_TIMEOUT)
        check(details is not None, "Details streamed no message")
        check(details.name == "compat-two-step", f"details name is {details.name!r}")
        check(len(details.definition) == 1, f"{len(details.definition)} definition entries for one file")
        content = details.definition[0].content
        # The client stores the response's `definition` field as is: a PipelineDefinitionFile message.
        text = getattr(content, "content", content)
        check(text == self.state["definition"], "the definition does not come back byte for byte")
        return {"definition_entries": len(details.definition), "path": getattr(content, "path", None)}

    def pipeline_metadata(self) -> Any:
        pipeline_id = self.state["pipeline_id"]
        added = dict(self.pipelines.add_metadata(pipeline_id, {"site": "lab-1"}, timeout=RPC_TIMEOUT))
        check(added.get("site") == "lab-1" and added.get("owner") == "compat", f"after add: {added}")
        remaining = dict(self.pipelines.remove_metadata(pipeline_id, ["site"], timeout=RPC_TIMEOUT))
        check("site" not in remaining and remaining.get("owner") == "compat", f"after remove: {remaining}")
        return {"after_add": added, "after_remove": remaining}

    # --- Payloads and the job --------------------------------------------------------------------------

    def reusable_payload(self) -> Any:
        created = self.payloads.create_payload(metadata={"kind": "reference"}, timeout=RPC_TIMEOUT)
        check(number(created.payload_type) == payload_types.PayloadType.Reusable.value,
              f"reusable payload has type {created.payload_type!r}")
        uploaded = self.payloads.upload(created.payload_id, "shared/ref.txt", io.BytesIO(SHARED), timeout=RPC_TIMEOUT)
        check(uploaded.size == len(SHARED), f"upload answered size {uploaded.size}")
        extra = self.payloads.upload(created.payload_id, "scratch.txt", io.BytesIO(b"x"), timeout=RPC_TIMEOUT)
        self.state["reusable"] = created.payload_id
        return {"payload_id": created.payload_id.value, "uploaded": [uploaded.name, extra.name]}

    def create_job(self) -> Any:
        info = self.jobs.create_job(self.state["pipeline_id"], "compat-job", input_payloads=[self.state["reusable"]],
                                    job_priority=job_types.JobPriority.Higher, metadata={"study": "compat-1"},
                                    timeout=RPC_TIMEOUT)
        check(len(info.job_id.value) == 32 and len(info.payload_id.value) == 32, "job or payload id malformed")
        self.state["job"] = info
        return {"job_id": info.job_id.value, "payload_id": info.payload_id.value}

    def upload_inputs(self) -> Any:
        payload_id = self.state["job"].payload_id
        names = {}
        # As NVIDIA's combined_example.py does: blob_name is the bare file name, from an open file.
        for name, data in (("a.txt", SMALL), ("b.bin", LARGE)):
            path = os.path.join(self.workdir, name)
            with open(path, "wb") as out:
                out.write(data)
            with open(path, "rb") as handle:
                details = self.payloads.upload(payload_id=payload_id, blob_name=name, file_object=handle,
                                               timeout=RPC_TIMEOUT)
            check(details.size == len(data), f"{name}: upload answered size {details.size}, sent {len(data)}")
            names[name] = details.name
        return {"answered_names": names}

    def list_pending(self) -> Any:
        job_id = self.state["job"].job_id
        everything = self.jobs.list_jobs(timeout=RPC_TIMEOUT)
        mine = self.jobs.list_jobs(job_types.JobFilter(pipeline_ids=[self.state["pipeline_id"]]), timeout=RPC_TIMEOUT)
        found = [j for j in mine if j.job_id.value == job_id.value]
        check(len(found) == 1, "the job is missing from List filtered by its pipeline")
        check(number(found[0].job_state) == PENDING, f"listed state {found[0].job_state!r}, expected PENDING")
        check(found[0].name == "compat-job", f"listed name {found[0].name!r}")
        check(found[0].date_created is not None, "listed job has no creation time")
        return {"unfiltered": len(everything), "by_pipeline": len(mine), "created": found[0].date_created}

    def start_job(self) -> Any:
        token = self.jobs.start_job(self.state["job"].job_id, named_values={"SUFFIX": "!"}, timeout=RPC_TIMEOUT)
        check(number(token.job_state) in (PENDING, RUNNING, STOPPED), f"start answered state {token.job_state!r}")
        check(number(token.job_priority) == job_types.JobPriority.Higher.value, f"priority {token.job_priority!r}")
        return {"state": number(token.job_state), "status": number(token.job_status)}

    def sealed_payload(self) -> Any:
        try:
            self.payloads.upload(self.state["job"].payload_id, "late.txt", io.BytesIO(b"late"), timeout=RPC_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 - the client raises bare Exception with the server's messages
            check("read-only" in str(exc), f"refused, but the message does not say why: {exc}")
            return {"refused": str(exc)}
        raise Failed("an upload to a started job's payload was accepted")

    def wait_for_job(self) -> Any:
        job_id = self.state["job"].job_id
        # As NVIDIA's combined_example.py does: poll get_status until job_state == 3 (STOPPED).
        status = poll(lambda: self.jobs.get_status(job_id, timeout=RPC_TIMEOUT),
                      lambda s: number(s.job_state) == STOPPED, JOB_TIMEOUT, "the job to stop")
        check(number(status.job_status) == HEALTHY, f"job stopped {status.job_status!r}: {list(status.messages)}")
        check(status.name == "compat-job" and status.payload_id.value == self.state["job"].payload_id.value,
              "status names another job")
        created, started, stopped = status.date_created, status.date_started, status.date_stopped
        check(when(created) and when(started) and when(stopped), f"timestamps {created}, {started}, {stopped}")
        check(created <= started <= stopped, f"timestamps out of order: {created}, {started}, {stopped}")
        operators = {name: number(d["status"]) for name, d in status.operator_details.items()}
        check(operators == {"upper": COMPLETED, "summary": COMPLETED}, f"operator statuses {operators}")
        check(dict(status.metadata).get("study") == "compat-1", f"job metadata {dict(status.metadata)}")
        return {"created": created, "started": started, "stopped": stopped, "operators": operators,
                "messages": list(status.messages)}

    def list_stopped(self) -> Any:
        stopped = self.jobs.list_jobs(job_types.JobFilter(has_job_state=[job_types.JobState.Stopped],
                                                          pipeline_ids=[self.state["pipeline_id"]]),
                                      timeout=RPC_TIMEOUT)
        found = [j for j in stopped if j.job_id.value == self.state["job"].job_id.value]
        check(len(found) == 1, "the finished job is missing from List(has_state=STOPPED)")
        check(when(found[0].date_stopped), f"listed stop time {found[0].date_stopped!r}")
        return {"listed": len(stopped), "stopped": found[0].date_stopped}

    def job_logs(self) -> Any:
        upper = self.jobs.job_logs(self.state["job"].job_id, "upper", timeout=RPC_TIMEOUT)
        check(any("upper a.txt" in line for line in upper), f"upper's log lacks its output: {upper}")
        summary = self.jobs.job_logs(self.state["job"].job_id, "summary", timeout=RPC_TIMEOUT)
        check(any("summary of 4 files" in line for line in summary), f"summary's log: {summary}")
        return {"upper": upper, "summary": summary}

    def payload_details(self) -> Any:
        details = self.payloads.get_details(self.state["job"].payload_id, timeout=RPC_TIMEOUT)
        check(details is not None, "Details streamed no message")
        check(number(details.payload_type) == payload_types.PayloadType.Pipeline.value,
              f"job payload has type {details.payload_type!r}")
        names = [f.name for f in details.file_details]
        # NVIDIA's combined_example.py keeps a file when name.split('/')[1] == 'operators', then downloads
        # "." + name: Clara named payload files rooted at the payload, e.g. "/operators/<op>/<file>".
        outputs = rooted_operator_files(names)
        check(outputs, f"no name passes the client example's test split('/')[1] == 'operators': {names}")
        summary = [n for n in outputs if n.split("/")[2] == "summary" and n.endswith("/" + SUMMARY_FILE)]
        check(len(summary) == 1, f"no /operators/summary/.../{SUMMARY_FILE} among {outputs}")
        self.state["summary_name"] = summary[0]
        return {"names": names}

    def download_output(self) -> Any:
        name = "." + self.state["summary_name"]
        target = os.path.join(self.workdir, SUMMARY_FILE)
        with open(target, "wb+") as out:
            details = self.payloads.download_from(payload_id=self.state["job"].payload_id, blob_name=name,
                                                  dest_obj=out, timeout=RPC_TIMEOUT)
        check(details is not None, f"Download of {name!r} streamed no message")
        with open(target, "rb") as handle:
            summary = json.loads(handle.read())
        expected = {"A.TXT": len(SMALL), "B.BIN": len(LARGE), "SHARED/REF.TXT": len(SHARED), "SCRATCH.TXT": 1}
        check({k.upper(): v for k, v in summary["files"].items()} == expected, f"summary lists {summary['files']}")
        check(summary["suffix"] == "!", f"job-start variable SUFFIX arrived as {summary['suffix']!r}")
        return {"asked": name, "answered_name": details.name, "size": details.size, "summary": summary}

    def download_input(self) -> Any:
        out = io.BytesIO()
        details = self.payloads.download_from(self.state["job"].payload_id, "b.bin", dest_obj=out, timeout=RPC_TIMEOUT)
        check(out.getvalue() == LARGE, f"downloaded {len(out.getvalue())} bytes, uploaded {len(LARGE)}")
        return {"answered_name": details.name, "size": details.size}

    def job_metadata(self) -> Any:
        job_id = self.state["job"].job_id
        added = dict(self.jobs.add_metadata(job_id, {"reviewed": "yes"}, timeout=RPC_TIMEOUT))
        check(added == {"study": "compat-1", "reviewed": "yes"}, f"after add: {added}")
        remaining = dict(self.jobs.remove_metadata(job_id, ["reviewed"], timeout=RPC_TIMEOUT))
        check(remaining == {"study": "compat-1"}, f"after remove: {remaining}")
        return {"after_add": added, "after_remove": remaining}

    def payload_metadata(self) -> Any:
        payload_id = self.state["job"].payload_id
        added = dict(self.payloads.add_metadata(payload_id, {"checked": "true"}, timeout=RPC_TIMEOUT))
        check(added.get("checked") == "true", f"after add: {added}")
        remaining = dict(self.payloads.remove_metadata(payload_id, ["checked"], timeout=RPC_TIMEOUT))
        check("checked" not in remaining, f"after remove: {remaining}")
        return {"after_add": added, "after_remove": remaining}

    # --- Cancel ----------------------------------------------------------------------------------------

    def cancel_running(self) -> Any:
        text = sleeper_pipeline("compat-sleeper")
        pipeline_id = self.pipelines.create_pipeline([pipeline_types.PipelineDefinition(name="sleeper.yaml",
                                                                                        content=text)],
                                                     timeout=RPC_TIMEOUT)
        self.state["sleeper_pipeline"] = pipeline_id
        job = self.jobs.create_job(pipeline_id, "compat-sleeper-job", timeout=RPC_TIMEOUT)
        self.jobs.start_job(job.job_id, timeout=RPC_TIMEOUT)
        poll(lambda: self.jobs.get_status(job.job_id, timeout=RPC_TIMEOUT),
             lambda s: number(s.job_state) == RUNNING, JOB_TIMEOUT, "the sleeper job to run")
        asked = time.monotonic()
        token = self.jobs.cancel_job(job.job_id, reason="compat test cancels", timeout=RPC_TIMEOUT)
        status = poll(lambda: self.jobs.get_status(job.job_id, timeout=RPC_TIMEOUT),
                      lambda s: number(s.job_state) == STOPPED, CANCEL_WITHIN, "the cancelled job to stop")
        took = time.monotonic() - asked
        check(number(status.job_status) == CANCELED, f"cancelled job ended {status.job_status!r}")
        return {"token": [number(token.job_state), number(token.job_status)], "stopped_after_s": round(took, 2),
                "messages": list(status.messages)}

    def cancel_pending(self) -> Any:
        job = self.jobs.create_job(self.state["sleeper_pipeline"], "compat-never-started", timeout=RPC_TIMEOUT)
        token = self.jobs.cancel_job(job.job_id, timeout=RPC_TIMEOUT)
        status = self.jobs.get_status(job.job_id, timeout=RPC_TIMEOUT)
        check((number(status.job_state), number(status.job_status)) == (STOPPED, CANCELED),
              f"a cancelled pending job is {status.job_state!r}/{status.job_status!r}")
        return {"token": [number(token.job_state), number(token.job_status)]}

    # --- Reusable payload clean-up, pipeline update/remove ---------------------------------------------

    def remove_blob(self) -> Any:
        reusable = self.state["reusable"]
        self.payloads.remove_from(reusable, "scratch.txt", timeout=RPC_TIMEOUT)
        names = [f.name for f in self.payloads.get_details(reusable, timeout=RPC_TIMEOUT).file_details]
        check(not any(n.endswith("scratch.txt") for n in names), f"scratch.txt still listed: {names}")
        check(any(n.endswith("shared/ref.txt") for n in names), f"shared/ref.txt vanished: {names}")
        return {"names": names}

    def delete_payload(self) -> Any:
        reusable = self.state["reusable"]
        self.payloads.delete_payload(reusable, timeout=RPC_TIMEOUT)
        try:
            self.payloads.get_details(reusable, timeout=RPC_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 - the client raises bare Exception with the server's messages
            check("does not exist" in str(exc) or "not found" in str(exc).lower(), f"unclear message: {exc}")
            return {"details_after_delete": str(exc)}
        raise Failed("Details of a deleted payload still answered")

    def update_and_remove_pipeline(self) -> Any:
        pipeline_id = self.state["sleeper_pipeline"]
        text = sleeper_pipeline("compat-sleeper-v2")
        self.pipelines.update_pipeline(pipeline_id, [pipeline_types.PipelineDefinition(name="sleeper.yaml",
                                                                                        content=text)],
                                       timeout=RPC_TIMEOUT)
        details = self.pipelines.pipeline_details(pipeline_id, timeout=RPC_TIMEOUT)
        check(details.name == "compat-sleeper-v2", f"updated pipeline is named {details.name!r}")
        self.pipelines.remove_pipeline(pipeline_id, timeout=RPC_TIMEOUT)
        left = [p.pipeline_id.value for p in self.pipelines.list_pipelines(timeout=RPC_TIMEOUT)]
        check(pipeline_id.value not in left, "removed pipeline is still listed")
        return {"renamed": details.name, "pipelines_left": len(left)}

    # --- Models and stop -----------------------------------------------------------------------------

    def models_client_methods(self) -> Any:
        return compat_models.client_method_defects(self.models)

    def models_via_stub(self) -> Any:
        return compat_models.repository_via_stub(self.models, RPC_TIMEOUT)

    def model_catalogs(self) -> Any:
        return compat_models.catalogs(self.models, RPC_TIMEOUT)

    def stop(self) -> Any:
        self.clara.stop(timeout=RPC_TIMEOUT)
        return {}

    def run(self, stop: bool) -> None:
        for name, action in (
            ("clara.version", self.version), ("clara.list_utilization", self.utilization),
            ("pipelines.create_pipeline", self.create_pipeline), ("pipelines.list_pipelines", self.list_pipelines),
            ("pipelines.pipeline_details", self.pipeline_details),
            ("pipelines.add_remove_metadata", self.pipeline_metadata),
            ("payloads.create_payload+upload (reusable)", self.reusable_payload),
            ("jobs.create_job", self.create_job), ("payloads.upload (job input)", self.upload_inputs),
            ("jobs.list_jobs (pending)", self.list_pending), ("jobs.start_job", self.start_job),
            ("payloads.upload refused after start", self.sealed_payload),
            ("jobs.get_status (poll until stopped)", self.wait_for_job),
            ("jobs.list_jobs (stopped filter)", self.list_stopped), ("jobs.job_logs", self.job_logs),
            ("payloads.get_details (job payload)", self.payload_details),
            ("payloads.download_from (operator output)", self.download_output),
            ("payloads.download_from (job input)", self.download_input),
            ("jobs.add_remove_metadata", self.job_metadata),
            ("payloads.add_remove_metadata", self.payload_metadata),
            ("jobs.cancel_job (running)", self.cancel_running), ("jobs.cancel_job (pending)", self.cancel_pending),
            ("payloads.remove_from (reusable)", self.remove_blob),
            ("payloads.delete_payload (reusable)", self.delete_payload),
            ("pipelines.update+remove_pipeline", self.update_and_remove_pipeline),
            ("models.ModelsClient methods", self.models_client_methods),
            ("models.repository via client stub", self.models_via_stub),
            ("models.create_catalog", self.model_catalogs),
        ):
            self.report.step(name, action)
        if stop:
            self.report.step("clara.stop", self.stop)
        self.report.finish()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("endpoint", help="host:port of the platform's gRPC API")
    parser.add_argument("workdir", help="a writable folder for the files to upload and download")
    parser.add_argument("--keep-going", action="store_true", help="run every step even after a failure")
    parser.add_argument("--stop", action="store_true", help="finish with Clara.Stop")
    args = parser.parse_args()
    Driver(args.endpoint, args.workdir, args.keep_going).run(args.stop)


if __name__ == "__main__":
    main()
