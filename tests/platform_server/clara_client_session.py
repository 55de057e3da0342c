"""Drive a platform server with NVIDIA's own Python client (`nvidia-clara-client`, Apache-2.0), unchanged.

Run with an interpreter that has `nvidia_clara` installed (its generated code needs
PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python on protobuf >= 4):

    python clara_client_session.py HOST:PORT WORKDIR

Prints one `ok <step>` line per step and exits non-zero on the first mismatch.
"""

from __future__ import annotations

import io
import os
import sys
import time

from nvidia_clara import ClaraClient, JobsClient, PayloadsClient, PipelinesClient, job_types, pipeline_types

OPERATOR = "import os, sys\nsrc, dst = sys.argv[1:3]\nfor n in os.listdir(src):\n    " \
           "open(os.path.join(dst, n), 'w').write(open(os.path.join(src, n)).read()[::-1])\nprint('reversed')\n"


def number(value):
    """Clara's client returns enums from some calls and raw ints from others (Jobs.Start)."""
    return int(getattr(value, "value", value))


def check(condition, step):
    if not condition:
        print(f"FAILED {step}", flush=True)
        sys.exit(1)
    print(f"ok {step}", flush=True)


def main(endpoint, workdir):
    script = os.path.join(workdir, "reverse.py")
    with open(script, "w") as out:
        out.write(OPERATOR)
    definition = (f"api-version: 0.4.0\nname: clara-client\noperators:\n- name: reverse\n"
                  f"  container: {{image: local/reverse, command: [python, {script}, /input, /output]}}\n"
                  f"  input: [{{path: /input}}]\n  output: [{{path: /output}}]\n")
    host, port = endpoint.rsplit(":", 1)
    clara = ClaraClient(host, port)
    check(clara.version() is not None, "Clara.Version")
    pipelines = PipelinesClient(host, port)
    pipeline_id = pipelines.create_pipeline([pipeline_types.PipelineDefinition(name="p.yaml", content=definition)])
    check(len(pipeline_id.value) == 32, "Pipelines.Create")
    check(any(p.pipeline_id.value == pipeline_id.value for p in pipelines.list_pipelines()), "Pipelines.List")
    details = pipelines.pipeline_details(pipeline_id)
    check(details.name == "clara-client", "Pipelines.Details")

    jobs = JobsClient(host, port)
    job = jobs.create_job(pipeline_id, "clara-client-job", job_priority=job_types.JobPriority.Higher)
    payloads = PayloadsClient(host, port)
    blob = b"0123456789" * 20000  # 200 kB: four 64 KiB chunks with per-chunk sizes
    uploaded = payloads.upload(job.payload_id, "data.txt", io.BytesIO(blob))
    check(uploaded.size == len(blob), "Payloads.Upload (64 KiB chunks)")
    token = jobs.start_job(job.job_id)
    check(number(token.job_state) in (1, 2), "Jobs.Start")  # PENDING (queued) or RUNNING
    for _ in range(600):
        status = jobs.get_status(job.job_id)
        if number(status.job_state) == number(job_types.JobState.Stopped):
            break
        time.sleep(0.1)
    check(number(status.job_status) == number(job_types.JobStatus.Healthy), f"Jobs.Status ({status.messages})")
    names = [f.name for f in payloads.get_details(job.payload_id).file_details]
    # Details names files rooted at the payload, as Clara did; Download takes the name as listed, with
    # "." in front (the client's own example), or relative.
    check("/operators/reverse/output/data.txt" in names, "Payloads.Details")
    out = io.BytesIO()
    payloads.download_from(job.payload_id, "./operators/reverse/output/data.txt", out)
    check(out.getvalue() == blob[::-1], "Payloads.Download")
    check(any(j.job_id.value == job.job_id.value for j in jobs.list_jobs()), "Jobs.List")
    check("reversed" in jobs.job_logs(job.job_id, "reverse"), "Jobs.ReadLogs")
    # (Clara's add_metadata cannot run here: on the pure-Python protobuf runtime it calls .update() on a
    # map field it declares as repeated, client-side, before any request is sent.)
    try:
        payloads.upload(job.payload_id, "late.txt", io.BytesIO(b"x"))
        check(False, "read-only payload refused")
    except Exception as exc:  # Clara's client raises a bare Exception with the server's messages
        check("read-only" in str(exc), "read-only payload refused")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
