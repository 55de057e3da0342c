"""Soak: `clara load` against the whole stack for a long time at a realistic mix; nothing lost, nothing doubled.

    .venv/bin/python bench/soak.py [--minutes 30] [--rate 0.4] [--concurrency 3] [--mix ct=1,cr=3,dx=3]
                                   [--abort-fraction 0.3] [--ct-slices 60] [--ct-matrix 512] [--json]

A fresh stack (results service, platform with the local executor, adapter, DCMTK storescp as the PACS)
on free loopback ports; three Clara AE titles run a light pipeline that exports one instance of each
study to the PACS. `clara load` sends CT series and single CR/DX images round robin to the three AE
titles; `--abort-fraction` of the CT senders abort their association part-way. Then
(tests/support/soak.py): 0 acknowledged instances lost, 0 duplicate jobs, every study through to its
export, RSS and open files of the three services flat, latency percentiles stable between halves.
Exit code 1 when a check fails. The CI test runs the same checks for 60 s (tests/integration/test_soak.py).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.soak import soak  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=0.4, help="studies per second")
    parser.add_argument("--concurrency", type=int, default=3)
    parser.add_argument("--mix", default="ct=1,cr=3,dx=3")
    parser.add_argument("--abort-fraction", type=float, default=0.3, help="of the CT senders")
    parser.add_argument("--seed", type=int, default=1, help="seeds the mix and the failing senders")
    parser.add_argument("--ct-slices", type=int, default=60)
    parser.add_argument("--ct-matrix", type=int, default=512)
    parser.add_argument("--json", action="store_true", help="print the whole result as JSON")
    args = parser.parse_args()
    load_args = ["--rate", str(args.rate), "--concurrency", str(args.concurrency), "--mix", args.mix,
                 "--abort-fraction", str(args.abort_fraction), "--ct-slices", str(args.ct_slices),
                 "--ct-matrix", str(args.ct_matrix), "--seed", str(args.seed)]
    root = Path(tempfile.mkdtemp(prefix="soak-"))
    result = soak(root, args.minutes * 60, load_args)
    if result.passed:
        shutil.rmtree(root, ignore_errors=True)
    else:  # the services' logs and clara load's records say what happened
        print(f"kept {root} (services' logs, records.jsonl)", file=sys.stderr)
    if args.json:
        print(json.dumps({"report": result.report, "resources": result.resources, "findings": result.findings},
                         indent=2))
    else:
        _print(result.report, result.resources, result.findings)
    return 0 if result.passed else 1


def _print(report: dict, resources: dict, findings: dict) -> None:
    studies, instances = report.get("studies", {}), report.get("instances", {})
    print(f"studies {studies}; instances {instances}; throughput {report.get('throughput')}")
    for stage, figures in report.get("stages", {}).items():
        print(f"  {stage:<17} n={figures['count']:<5} p50={figures['p50']} p90={figures['p90']} "
              f"p99={figures['p99']} max={figures['max']} s")
    for name, figures in resources.items():
        print(f"  {name:<16} RSS {figures['rss_mb_first']} -> {figures['rss_mb_last']} MB, "
              f"open files {figures['fds_first']} -> {figures['fds_last']}")
    for check, found in findings.items():
        print(f"{check}: {'OK' if not found else f'{len(found)} finding(s)'}")
        for line in found[:20]:
            print(f"    {line}")


if __name__ == "__main__":
    sys.exit(main())
