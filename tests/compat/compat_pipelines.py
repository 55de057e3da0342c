"""Pipeline definitions (Clara's YAML) that the compatibility driver submits through NVIDIA's client.

Plain standard library: the driver imports this module from the client's own virtualenv. Operators are
`python3 -c` one-liners, so the definitions are self-contained; the JSON lists are valid YAML flow style.
"""

from __future__ import annotations

import json

# Upper-cases every input file (the job payload's input: uploads plus copied reusable payloads).
UPPER = """
import pathlib, sys
src, dst = map(pathlib.Path, sys.argv[1:3])
for path in sorted(p for p in src.rglob('*') if p.is_file()):
    target = dst / path.relative_to(src)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(path.read_bytes().upper())
    print('upper', path.relative_to(src).as_posix(), flush=True)
"""

# Summarises what `upper` produced, plus the SUFFIX variable resolved from the job-start variables.
SUMMARY = """
import json, os, pathlib, sys
src, dst = map(pathlib.Path, sys.argv[1:3])
files = {p.relative_to(src).as_posix(): p.stat().st_size for p in sorted(src.rglob('*')) if p.is_file()}
(dst / 'summary.json').write_text(json.dumps({'files': files, 'suffix': os.environ.get('SUFFIX', '')}))
print('summary of', len(files), 'files', flush=True)
"""

SLEEP = "import time; print('sleeping', flush=True); time.sleep(120)"

SUMMARY_FILE = "summary.json"


def _command(code: str) -> str:
    return json.dumps(["python3", "-c", code.strip(), "/input", "/output"])


def two_operator_pipeline(name: str) -> str:
    """`upper` reads the job's input, `summary` reads `upper`'s output; SUFFIX is a pipeline parameter."""
    return f"""api-version: 0.4.0
name: {name}
parameters:
  SUFFIX: "?"
operators:
- name: upper
  description: upper-cases every file of the job payload
  container:
    image: local/compat-upper
    tag: latest
    command: {_command(UPPER)}
  input:
  - path: /input
  output:
  - path: /output
- name: summary
  description: lists what upper wrote
  container:
    image: local/compat-summary
    tag: latest
    command: {_command(SUMMARY)}
  variables:
    SUFFIX: "${{{{SUFFIX}}}}"
  input:
  - from: upper
    path: /input
  output:
  - path: /output
"""


def sleeper_pipeline(name: str) -> str:
    """One operator that sleeps long enough to be cancelled while it runs."""
    return f"""api-version: 0.4.0
name: {name}
operators:
- name: sleeper
  container:
    image: local/compat-sleeper
    command: {json.dumps(["python3", "-c", SLEEP])}
  input:
  - path: /input
  output:
  - path: /output
"""
