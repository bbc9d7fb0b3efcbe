-- The first schema of jobsvc: handlers, jobs and their event logs.

CREATE TABLE jobsvc_handlers (
    name          text        NOT NULL,
    version       text        NOT NULL,
    description   text        NOT NULL DEFAULT '',
    input_schema  jsonb,
    output_schema jsonb,
    input_type    text        NOT NULL DEFAULT '',
    output_type   text        NOT NULL DEFAULT '',
    -- Refreshed by every process that serves this version; "online" means recently.
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, version)
);

CREATE TABLE jobsvc_jobs (
    id               uuid        PRIMARY KEY,
    handler          text        NOT NULL,
    version_selector text        NOT NULL,
    version          text        NOT NULL,
    state            text        NOT NULL
        CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    priority         integer     NOT NULL DEFAULT 0,
    -- A payload is either JSON (input) or a protobuf Any (input_type_url, input_data).
    input            jsonb,
    input_type_url   text,
    input_data       bytea,
    result           jsonb,
    result_type_url  text,
    result_data      bytea,
    error            jsonb,
    attempt          integer     NOT NULL DEFAULT 0,
    -- New for every attempt; writes that carry an older token are refused (fencing).
    attempt_token    uuid,
    lease_owner      text,
    lease_expires_at timestamptz,
    idempotency_key  text,
    labels           jsonb       NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL DEFAULT now(),
    run_at           timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    cancel_requested boolean     NOT NULL DEFAULT false,
    cancel_reason    text,
    -- Sequence number of the newest row in jobsvc_job_events for this job.
    last_seq         integer     NOT NULL DEFAULT 0,
    progress_percent double precision,
    progress_message text
);

-- The claim query walks this index in hand-out order; only queued rows are in it,
-- so it stays small however many finished jobs the table keeps.
CREATE INDEX jobsvc_jobs_queued_idx ON jobsvc_jobs (priority DESC, run_at, id) WHERE state = 'queued';
CREATE INDEX jobsvc_jobs_lease_idx ON jobsvc_jobs (lease_expires_at) WHERE state = 'running';
CREATE UNIQUE INDEX jobsvc_jobs_idempotency_key_idx ON jobsvc_jobs (idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobsvc_jobs_created_idx ON jobsvc_jobs (created_at DESC, id DESC);
CREATE INDEX jobsvc_jobs_handler_created_idx ON jobsvc_jobs (handler, created_at DESC, id DESC);

CREATE TABLE jobsvc_job_events (
    job_id           uuid        NOT NULL REFERENCES jobsvc_jobs (id) ON DELETE CASCADE,
    seq              integer     NOT NULL,
    kind             text        NOT NULL,
    time             timestamptz NOT NULL DEFAULT now(),
    data             jsonb       NOT NULL DEFAULT '{}',
    payload          jsonb,
    payload_type_url text,
    payload_data     bytea,
    PRIMARY KEY (job_id, seq)
);
