-- Results service schema. Times are POSIX seconds (REAL). States are Clara's names.
CREATE TABLE IF NOT EXISTS tasks (
    task_id       TEXT PRIMARY KEY,
    agent         TEXT NOT NULL,
    job_id        TEXT NOT NULL,
    pipeline_id   TEXT NOT NULL DEFAULT '',
    payload_id    TEXT NOT NULL DEFAULT '',
    parameters    TEXT NOT NULL DEFAULT '',
    uris          TEXT NOT NULL,              -- JSON array of payload-relative paths
    dedup_key     TEXT NOT NULL UNIQUE,       -- idempotent registration
    state         TEXT NOT NULL,
    retries       INTEGER NOT NULL DEFAULT 0,
    expiries      INTEGER NOT NULL DEFAULT 0,  -- leases that ran out without a report
    created       REAL NOT NULL,
    updated       REAL NOT NULL,
    next_attempt  REAL NOT NULL,              -- not leased before this time (backoff)
    lease_id      TEXT,                       -- current lease, or the last expired one
    lease_expires REAL,
    last_error    TEXT
);
CREATE INDEX IF NOT EXISTS tasks_ready ON tasks (agent, state, next_attempt);
CREATE INDEX IF NOT EXISTS tasks_lease ON tasks (state, lease_expires);
CREATE INDEX IF NOT EXISTS tasks_job ON tasks (job_id, state);
CREATE INDEX IF NOT EXISTS tasks_created ON tasks (created);

-- One row per job whose payload the cleanup deleted (or found already gone).
CREATE TABLE IF NOT EXISTS payload_cleanup (
    job_id     TEXT PRIMARY KEY,
    payload_id TEXT NOT NULL,
    deleted    REAL NOT NULL,
    outcome    TEXT NOT NULL
);
