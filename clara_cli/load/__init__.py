"""`clara load` (Clara's `cpload`): synthetic studies into the stack, throughput and latency per stage.

Data flow:

    command   options -> LoadPlan (plan), StudyMaker (studies), a deliverer, StageTracker; prints the report
    runner    paces the studies (rate, concurrency, duration), drains, summarizes
      studies   fresh UIDs on templates drawn once (CT from the phantom, CR, DX)
      sender    one pynetdicom association per study -> the adapter's SCP (aborts for failing senders)
        reactor   keeps pynetdicom's reactor thread parked while a C-STORE waits for its response
      direct    or Jobs.Create + uploads + Jobs.Start on the Platform API (`--pipeline`)
      records   StudyRecord: what was acknowledged and when each stage was reached
    tracker   polls the adapter's payloads, the platform's jobs and the results service's tasks
    report    percentiles per stage, throughput, counts -> JSON, a rich table, the live view
"""

from clara_cli.load.command import register

__all__ = ["register"]
