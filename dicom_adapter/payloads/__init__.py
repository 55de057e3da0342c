"""Payloads: the instances of one called AE title, grouped, closed and submitted as platform jobs.

scp/ --StoredInstance--> intake.Intake (counts; never blocks)
    -> assembler.PayloadAssembler  group by (called AE, tag), sliding quiet timeout, SQLite batch -> closed payload
    -> submitter.PayloadSubmitter  per pipeline: create job -> upload (jobs.py: names, layout, metadata) -> start,
                                   exponential backoff while the platform is unavailable, faulted when it refuses
    -> platform_gateway.PlatformGateway  the JobPlatform over platform_api.PlatformClient
"""
