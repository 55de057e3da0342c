-- The adapter's durable state: live configuration, received instances, payloads and their jobs.
-- Times are Unix seconds (REAL). Names compare case-insensitively like Clara's REST keys.
PRAGMA foreign_keys = ON;

CREATE TABLE IF NOT EXISTS clara_ae_titles (
    name TEXT PRIMARY KEY COLLATE NOCASE,
    ae_title TEXT NOT NULL UNIQUE,                 -- exact case: the called AE is matched exactly
    pipelines TEXT NOT NULL,                       -- JSON {key: pipeline id}
    group_by TEXT NOT NULL,
    timeout_seconds REAL NOT NULL,
    priority TEXT NOT NULL,
    overwrite_same_instance INTEGER NOT NULL,
    ignored_sop_classes TEXT NOT NULL,             -- JSON list
    allowed_sop_classes TEXT NOT NULL,             -- JSON list
    job_retry_delay_ms INTEGER NOT NULL DEFAULT 5000  -- processorSettings.jobRetryDelay
);

CREATE TABLE IF NOT EXISTS source_ae_titles (
    ae_title TEXT PRIMARY KEY COLLATE NOCASE,
    host_ip TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS destination_ae_titles (
    name TEXT PRIMARY KEY COLLATE NOCASE,
    ae_title TEXT NOT NULL,
    host_ip TEXT NOT NULL,
    port INTEGER NOT NULL,
    tls TEXT                                       -- JSON DICOM TLS settings; NULL = as export.tls.enabled says
);

CREATE TABLE IF NOT EXISTS payloads (
    payload_id TEXT PRIMARY KEY,
    called_ae_title TEXT NOT NULL,
    group_key TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at REAL NOT NULL,
    last_received_at REAL NOT NULL,
    closed_at REAL,
    submitted_at REAL,
    pipelines TEXT,                                -- JSON snapshot taken when the payload closes
    priority TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT
);
CREATE INDEX IF NOT EXISTS payloads_state ON payloads(state);
-- "studies since midnight" (GET /api/payloads/count) and the newest-first listing read this, not the table.
CREATE INDEX IF NOT EXISTS payloads_created ON payloads(created_at);

CREATE TABLE IF NOT EXISTS instances (
    path TEXT PRIMARY KEY,                         -- the spool file
    payload_id TEXT NOT NULL REFERENCES payloads(payload_id),
    sop_instance_uid TEXT NOT NULL,
    sop_class_uid TEXT NOT NULL,
    study_instance_uid TEXT NOT NULL,
    series_instance_uid TEXT NOT NULL,
    transfer_syntax TEXT NOT NULL,
    calling_ae_title TEXT NOT NULL,
    calling_host TEXT NOT NULL,
    association_id TEXT NOT NULL,
    size INTEGER NOT NULL,
    received_at REAL NOT NULL,
    superseded INTEGER NOT NULL DEFAULT 0          -- 1 = a re-sent copy replaced it, or it was a kept duplicate
);
CREATE INDEX IF NOT EXISTS instances_payload ON instances(payload_id, sop_instance_uid);

CREATE TABLE IF NOT EXISTS payload_jobs (
    payload_id TEXT NOT NULL REFERENCES payloads(payload_id),
    pipeline_key TEXT NOT NULL,
    pipeline_id TEXT NOT NULL,
    job_id TEXT,
    platform_payload_id TEXT,
    uploaded INTEGER NOT NULL DEFAULT 0,
    started INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (payload_id, pipeline_key)
);

CREATE TABLE IF NOT EXISTS associations (
    association_id TEXT PRIMARY KEY,
    calling_ae_title TEXT NOT NULL,
    called_ae_title TEXT NOT NULL,
    host TEXT NOT NULL,
    port INTEGER NOT NULL,
    started_at REAL NOT NULL,
    ended_at REAL NOT NULL,
    instances INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    outcome TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS associations_ended ON associations(ended_at);
