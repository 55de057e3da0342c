"""What tests and benchmarks share: real processes, the adapter harness, generated studies, ports, pods.

The rule: `bench/` imports from `tests.support` only, never from a test module, a `conftest` or another
test package, so a benchmark never depends on how a test is written. `tests.support` in turn imports no
test module (checked by tests/test_support_rule.py).

    processes   results service, platform, adapter, Orthanc, storescp as child processes; wait_for
    harness     the adapter's integration harness: Platform, Adapter, seed, write_study, storescu
    roundtrip   the Orthanc -> adapter -> platform -> results -> export loop's pieces
    instances   synthetic CT series (make_ct, make_series)
    containers  Podman fixtures (registered in tests/conftest.py) and the busybox image builder
    pods        pod manifests as `podman kube play` runs them (resolve_sub_paths)
    network     free_port
    http        an authenticated httpx for the stack's REST services
    stack       the whole stack for `clara load` and the soak (light export pipeline, storescp as the PACS)
    soak        the soak's checks (lost instances, duplicate jobs, resources, latency drift) and `soak()`
"""
