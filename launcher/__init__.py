"""launcher: the embedded stack, all three services and the console on one machine (`openclara up` / `openclara wait`).

Data flow::

    config/*.yaml + CLARA_* env --stack.plan--> Stack (services, listeners, wiring env)
        --stack.check_ports--> every taken port named together, nothing started
        --supervisor.up--> results_service, platform_server, dicom_adapter, console as child processes,
                           each started once the previous answers its readiness probe, writing to
                           $CLARA_HOME/run/<service>.log (log_mirror copies it onto our terminal);
                           run/stack.json says up runs them (openclara.run_files, read by `clara`)
        SIGTERM / a child dying --> stop in reverse dependency order, exit code says why

This is the only package that imports all three services' settings; `openclara` (the shared base)
imports none of them, so a service loading its base does not load the others.
"""
