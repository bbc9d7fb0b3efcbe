-- The schema of jobsvc as it is after the last migration, in one file: tables (with
-- their columns in the order the migrations left them), indexes, functions and triggers.
--
-- Nothing runs this file. Every install, a fresh one too, applies migrations/ in order
-- (PgStore.migrate, under an advisory lock): one path to the schema, the one every
-- upgraded database took, so a fresh install can never differ from an upgraded one. This
-- file is the readable result, and the single place to read what the retry rule or any
-- other piece of SQL is today (no need to find the migration that last redefined it).
--
-- tests/store/test_schema.py fails when the migrations and this file disagree. After
-- adding a migration, redraw this file with
--     python -m jobsvc.store.schema_dump
-- which keeps every comment here above the object it explains; review the diff, and
-- say why above anything new (the test insists on it). Migrations stay append-only: a
-- released migration file is never edited, a change is the next number.

-- Which migrations have run, one row each. Made by PgStore.migrate itself (queries.sql,
-- migration_table_create), not by a migration: it records them.
CREATE TABLE jobsvc_schema_migrations (
    version    integer     NOT NULL,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT jobsvc_schema_migrations_pkey PRIMARY KEY (version)
);

-- The handler registry: every (name, version) any process has served. Refreshed by
-- every process that serves a version; "online" means seen recently (handler_list). The
-- version's retry policy, timeouts, retention and flow control are the defaults its jobs
-- get at submit.
CREATE TABLE jobsvc_handlers (
    name            text             NOT NULL,
    version         text             NOT NULL,
    description     text             NOT NULL DEFAULT ''::text,
    input_schema    jsonb,
    output_schema   jsonb,
    input_type      text             NOT NULL DEFAULT ''::text,
    output_type     text             NOT NULL DEFAULT ''::text,
    -- Refreshed by every process that serves this version.
    last_seen_at    timestamptz      NOT NULL DEFAULT now(),
    retry_policy    jsonb,
    attempt_timeout double precision,
    cache_ttl       double precision,
    retention       double precision,
    flow_control    jsonb,
    CONSTRAINT jobsvc_handlers_pkey PRIMARY KEY (name, version)
);

-- One row per job: what to run, its state and attempts, its outcome, and everything
-- every replica and worker must apply the same way (retry policy, timeouts, limits),
-- copied onto the row at submit.
CREATE TABLE jobsvc_jobs (
    id                        uuid             NOT NULL,
    handler                   text             NOT NULL,
    version_selector          text             NOT NULL,
    version                   text             NOT NULL,
    state                     text             NOT NULL,
    priority                  integer          NOT NULL DEFAULT 0,
    -- A payload is either JSON (input) or a protobuf Any (input_type_url, input_data).
    input                     jsonb,
    input_type_url            text,
    input_data                bytea,
    result                    jsonb,
    result_type_url           text,
    result_data               bytea,
    error                     jsonb,
    attempt                   integer          NOT NULL DEFAULT 0,
    -- New for every attempt; writes that carry an older token are refused (fencing).
    attempt_token             uuid,
    lease_owner               text,
    lease_expires_at          timestamptz,
    idempotency_key           text,
    labels                    jsonb            NOT NULL DEFAULT '{}'::jsonb,
    created_at                timestamptz      NOT NULL DEFAULT now(),
    run_at                    timestamptz      NOT NULL DEFAULT now(),
    started_at                timestamptz,
    finished_at               timestamptz,
    cancel_requested          boolean          NOT NULL DEFAULT false,
    cancel_reason             text,
    -- Sequence number of the newest row in jobsvc_job_events for this job.
    last_seq                  integer          NOT NULL DEFAULT 0,
    progress_percent          double precision,
    progress_message          text,
    -- The effective retry policy (the handler's, overridden per job), kept on the job so
    -- that every replica and worker applies the same one.
    max_attempts              integer          NOT NULL DEFAULT 3,
    retry_initial_interval    double precision NOT NULL DEFAULT 1,
    retry_backoff_coefficient double precision NOT NULL DEFAULT 2,
    retry_maximum_interval    double precision NOT NULL DEFAULT 300,
    non_retryable_error_types text[]           NOT NULL DEFAULT '{}'::text[],
    attempt_timeout           double precision,
    -- Ends the running attempt: the lease never extends past it.
    attempt_deadline          timestamptz,
    -- From execution_timeout: the job fails if not done by then.
    deadline_at               timestamptz,
    -- From schedule_to_start_timeout: a queued job fails if not started by then.
    start_deadline_at         timestamptz,
    attempt_errors            jsonb            NOT NULL DEFAULT '[]'::jsonb,
    input_hash                text,
    cached_from               uuid,
    redrive_of                uuid,
    -- A FAILED job is redriven (re-run as a new job, redrive_of) at most once.
    redriven                  boolean          NOT NULL DEFAULT false,
    retention                 double precision NOT NULL DEFAULT 604800,
    -- Flow control: each limit is keyed, and the job carries the key its handler's template
    -- gave it at submit and the limit itself, so every replica applies the same one.
    concurrency_key           text,
    concurrency_limit         integer,
    rate_key                  text,
    rate_limit                integer,
    rate_period               double precision,
    fairness_key              text,
    -- Hand-out order among due jobs of one priority: run_at for most jobs; for a job with
    -- a fairness key, its key's virtual clock (see jobsvc_fair_clocks).
    order_at                  timestamptz      NOT NULL DEFAULT now(),
    -- The W3C trace context of the Submit that created the job, so the execution continues
    -- the caller's trace; NULL when tracing is off or the caller sent none.
    trace_context             jsonb,
    -- Set on the jobs that are steps of a workflow (jobsvc_workflow_steps): only for them do
    -- the workflow triggers run (their WHEN clause), so plain jobs pay nothing.
    workflow_id               uuid,
    -- Child jobs (ctx.spawn): the parent, and the handler's deterministic name for the
    -- spawn (unique among the parent's children, so a replayed spawn finds its child).
    parent_id                 uuid,
    spawn_key                 text,
    -- A parent: a cancel of it cancels its unfinished children.
    has_children              boolean          NOT NULL DEFAULT false,
    -- A parked parent (state waiting): the children it waits for, and how many of them
    -- have not counted themselves off yet.
    awaiting                  uuid[],
    children_pending          integer          NOT NULL DEFAULT 0,
    -- Durable sleeps (ctx.sleep) by key: when each ends, so a replay sleeps until then.
    sleeps                    jsonb,
    CONSTRAINT jobsvc_jobs_pkey PRIMARY KEY (id),
    CONSTRAINT jobsvc_jobs_state_check CHECK (state = ANY (ARRAY['queued'::text, 'running'::text, 'succeeded'::text, 'failed'::text, 'cancelled'::text, 'waiting'::text]))
);

-- The result cache (job_find_cached): the newest success of a version for an input.
CREATE INDEX jobsvc_jobs_cache_idx ON jobsvc_jobs (handler, version, input_hash, finished_at DESC)
    WHERE ((state = 'succeeded'::text) AND (input_hash IS NOT NULL));

-- A parent's children by spawn key (a replayed spawn finds its child; a cancel finds
-- them all). Partial: plain jobs have no entry.
CREATE UNIQUE INDEX jobsvc_jobs_children_idx ON jobsvc_jobs (parent_id, spawn_key)
    WHERE (parent_id IS NOT NULL);

-- ListJobs: newest first, keyset-paginated on (created_at, id).
CREATE INDEX jobsvc_jobs_created_idx ON jobsvc_jobs (created_at DESC, id DESC);

-- Redrive by handler: the dead-lettered jobs not redriven yet, oldest first.
CREATE INDEX jobsvc_jobs_dead_idx ON jobsvc_jobs (handler, finished_at)
    WHERE ((state = 'failed'::text) AND (NOT redriven));

-- Deadline expiry (job_expire_deadlines): unfinished jobs with an execution deadline.
CREATE INDEX jobsvc_jobs_deadline_idx ON jobsvc_jobs (deadline_at)
    WHERE ((deadline_at IS NOT NULL) AND (state = ANY (ARRAY['queued'::text, 'running'::text])));

-- Retention (job_reap_finished): finished jobs by when they finished.
CREATE INDEX jobsvc_jobs_finished_idx ON jobsvc_jobs (finished_at) WHERE (finished_at IS NOT NULL);

-- ListJobs of one handler, as jobsvc_jobs_created_idx.
CREATE INDEX jobsvc_jobs_handler_created_idx ON jobsvc_jobs (handler, created_at DESC, id DESC);

-- One job per idempotency key: a repeated submit finds the job it made (ON CONFLICT).
CREATE UNIQUE INDEX jobsvc_jobs_idempotency_key_idx ON jobsvc_jobs (idempotency_key)
    WHERE (idempotency_key IS NOT NULL);

-- ListJobs' label filters (labels @> '{...}'), 0009. Partial: jobs without labels cost it
-- nothing; the filter query repeats the condition so the planner may use it.
CREATE INDEX jobsvc_jobs_labels_idx ON jobsvc_jobs USING gin (labels jsonb_path_ops)
    WHERE (labels <> '{}'::jsonb);

-- Lease rescue (job_rescue_expired) and a session's leases (job_lease_shorten): the
-- leased (running) jobs by when their lease runs out. Not `WHERE state = 'running'`: the
-- outcome write's condition, which let the planner scan this index's dead entries
-- instead of the primary key (migration 0007).
CREATE INDEX jobsvc_jobs_leased_idx ON jobsvc_jobs (lease_expires_at)
    WHERE (lease_expires_at IS NOT NULL);

-- A claim walks each served version's range of this index apart, in hand-out order
-- (priority, then order_at), and stops at the batch size: the queued jobs of other
-- versions are never read. Only queued rows are in it, so it stays small however many
-- finished jobs the table keeps (0014).
CREATE INDEX jobsvc_jobs_queued_by_version_idx ON jobsvc_jobs (handler, version, priority DESC, order_at, id)
    WHERE (state = 'queued'::text);

-- Deadline expiry: queued jobs with a schedule-to-start deadline.
CREATE INDEX jobsvc_jobs_start_deadline_idx ON jobsvc_jobs (start_deadline_at)
    WHERE ((start_deadline_at IS NOT NULL) AND (state = 'queued'::text));

-- Each job's ordered event log (queued, started, progress, partial output, retrying,
-- the terminal event...), read by Stream and Call. seq is per job; last_seq on the job is
-- the newest. No foreign key to jobsvc_jobs (dropped in 0005): events are only written
-- by statements that update their job in the same statement, so it never caught
-- anything, and its per-row check cost more than the insert. The reaper deletes a job's
-- events with it.
CREATE TABLE jobsvc_job_events (
    job_id           uuid        NOT NULL,
    seq              integer     NOT NULL,
    kind             text        NOT NULL,
    "time"           timestamptz NOT NULL DEFAULT now(),
    data             jsonb       NOT NULL DEFAULT '{}'::jsonb,
    payload          jsonb,
    payload_type_url text,
    payload_data     bytea,
    CONSTRAINT jobsvc_job_events_pkey PRIMARY KEY (job_id, seq)
);

-- Running jobs per concurrency key. Kept exact by jobsvc_jobs_concurrency_count and
-- jobsvc_jobs_concurrency_apply (one write per key per statement) on every way a job
-- enters or leaves RUNNING, in the same transaction: a crashed worker's slot comes back
-- when the rescuer ends its attempt, and can never leak. A claim locks the key's row
-- (jobsvc_concurrency_lock), so replicas claiming at once cannot both take the last slot.
CREATE TABLE jobsvc_concurrency (
    key     text    NOT NULL,
    running integer NOT NULL DEFAULT 0,
    CONSTRAINT jobsvc_concurrency_pkey PRIMARY KEY (key),
    CONSTRAINT jobsvc_concurrency_running_check CHECK (running >= 0)
);

-- Rate limits as an exact sliding window: at most `capacity` starts in any `period`
-- seconds. (A token bucket of that capacity and refill rate allows up to twice the limit
-- in one window: a full bucket, then a period of refill.) The row keeps the recent grants
-- as parallel arrays (when, how many); a claim locks the row, forgets grants older than
-- the period, and grants what is left of the capacity (jobsvc_rate_take).
CREATE TABLE jobsvc_rate_windows (
    key           text             NOT NULL,
    capacity      integer          NOT NULL,
    period        double precision NOT NULL,
    grant_times   timestamptz[]    NOT NULL DEFAULT '{}'::timestamp with time zone[],
    grant_counts  integer[]        NOT NULL DEFAULT '{}'::integer[],
    -- While the window is full: when its oldest grant expires. Claims skip the key until
    -- then and claim loops wake then.
    blocked_until timestamptz,
    CONSTRAINT jobsvc_rate_windows_pkey PRIMARY KEY (key)
);

-- The claim's "when does a full window open next" (rate_retry_at).
CREATE INDEX jobsvc_rate_windows_blocked_idx ON jobsvc_rate_windows (blocked_until)
    WHERE (blocked_until IS NOT NULL);

-- Fairness by virtual clock: each key's clock advances by `spacing` seconds per job
-- submitted, and a job is handed out in order of max(its key's clock, now). A key that
-- floods the queue pushes its own jobs back; other keys' jobs keep their place.
CREATE TABLE jobsvc_fair_clocks (
    key     text        NOT NULL,
    next_at timestamptz NOT NULL,
    CONSTRAINT jobsvc_fair_clocks_pkey PRIMARY KEY (key)
);

-- Schedules (cron or fixed interval) that submit jobs. Each tick is submitted once
-- however many replicas run: the job's idempotency key names the schedule and the tick,
-- and next_tick_at only moves forward by compare-and-set (schedule_advance).
CREATE TABLE jobsvc_schedules (
    name             text             NOT NULL,
    handler          text             NOT NULL,
    version_selector text             NOT NULL,
    input            jsonb,
    input_type_url   text,
    input_data       bytea,
    priority         integer          NOT NULL DEFAULT 0,
    labels           jsonb            NOT NULL DEFAULT '{}'::jsonb,
    -- Retry policy and timeout overrides of the jobs it submits (JobSpec fields).
    options          jsonb            NOT NULL DEFAULT '{}'::jsonb,
    cron             text,
    interval_seconds double precision,
    time_zone        text             NOT NULL DEFAULT 'UTC'::text,
    missed_ticks     text             NOT NULL DEFAULT 'skip'::text,
    paused           boolean          NOT NULL DEFAULT false,
    -- 'api' (created over gRPC or the CLI) or 'code' (declared beside a handler).
    source           text             NOT NULL DEFAULT 'api'::text,
    next_tick_at     timestamptz      NOT NULL,
    last_tick_at     timestamptz,
    last_job_id      uuid,
    created_at       timestamptz      NOT NULL DEFAULT now(),
    updated_at       timestamptz      NOT NULL DEFAULT now(),
    -- A tick while its job's handler, version or key is paused: 'skip' submits nothing,
    -- 'keep' submits it to wait for the resume (0013).
    while_paused     text             NOT NULL DEFAULT 'skip'::text,
    CONSTRAINT jobsvc_schedules_check CHECK ((cron IS NULL) <> (interval_seconds IS NULL)),
    CONSTRAINT jobsvc_schedules_missed_ticks_check CHECK (missed_ticks = ANY (ARRAY['skip'::text, 'run_once'::text])),
    CONSTRAINT jobsvc_schedules_pkey PRIMARY KEY (name),
    CONSTRAINT jobsvc_schedules_while_paused_check CHECK (while_paused = ANY (ARRAY['skip'::text, 'keep'::text]))
);

-- The scheduler's "which schedules are due" and "when is the next tick".
CREATE INDEX jobsvc_schedules_due_idx ON jobsvc_schedules (next_tick_at) WHERE (NOT paused);

-- Workflows (WorkflowService): one row each, written at submit, by a cancel and by a
-- stream numbering events (events_stamped), never by a step's run. Its
-- state is derived from its steps' jobs when read, so finishing a step never writes here
-- (no hot row shared by every step of a large workflow).
CREATE TABLE jobsvc_workflows (
    id             uuid        NOT NULL,
    name           text        NOT NULL DEFAULT ''::text,
    labels         jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at     timestamptz NOT NULL DEFAULT now(),
    steps_total    integer     NOT NULL,
    cancel_reason  text,
    -- The last number StreamWorkflow gave a step event (jobsvc_workflow_events).
    events_stamped integer     NOT NULL DEFAULT 0,
    CONSTRAINT jobsvc_workflows_pkey PRIMARY KEY (id)
);

-- ListWorkflows: newest first, keyset-paginated on (created_at, id).
CREATE INDEX jobsvc_workflows_created_idx ON jobsvc_workflows (created_at DESC, id DESC);

-- One row per workflow step, keyed by its job: its place and name in the workflow, the
-- jobs that wait on it (child_ids), how many of its parents have not finished yet
-- (pending; it is queued when that reaches zero) and the values it takes from them
-- (inputs: [{job_id, step, path, key}]). A mapped step keeps its map ({job_id, step,
-- path, key, max_items}) and, once expanded, waits for its elements, whose rows name it
-- (map_of) and their index (item). Locked in job id order by everything that
-- changes pending (see jobsvc_workflow_step_finished), so joins neither deadlock nor race.
CREATE TABLE jobsvc_workflow_steps (
    job_id      uuid    NOT NULL,
    workflow_id uuid    NOT NULL,
    "position"  integer NOT NULL,
    name        text    NOT NULL,
    depends_on  text[]  NOT NULL DEFAULT '{}'::text[],
    child_ids   uuid[]  NOT NULL DEFAULT '{}'::uuid[],
    pending     integer NOT NULL DEFAULT 0,
    optional    boolean NOT NULL DEFAULT false,
    inputs      jsonb   NOT NULL DEFAULT '[]'::jsonb,
    map         jsonb,
    expanded    boolean NOT NULL DEFAULT false,
    map_of      text,
    item        integer,
    CONSTRAINT jobsvc_workflow_steps_pending_check CHECK (pending >= 0),
    CONSTRAINT jobsvc_workflow_steps_pkey PRIMARY KEY (job_id)
);

-- A workflow's steps in submit order (GetWorkflow, the workflow state, a cancel).
CREATE UNIQUE INDEX jobsvc_workflow_steps_position_idx ON jobsvc_workflow_steps (workflow_id, "position", COALESCE(item, '-1'::integer));

-- Pauses (0009): of a handler (version '': every version) or one version, or of a
-- flow-control key (handler ''). Each replica keeps it in memory (re-read on NOTIFY
-- jobsvc_pauses and every second): paused versions are left out of its claims, paused
-- keys passed to the claim only while there are any.
CREATE TABLE jobsvc_pauses (
    handler    text        NOT NULL DEFAULT ''::text,
    version    text        NOT NULL DEFAULT ''::text,
    flow_key   text        NOT NULL DEFAULT ''::text,
    reason     text        NOT NULL DEFAULT ''::text,
    paused_by  text        NOT NULL DEFAULT ''::text,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT jobsvc_pauses_pkey PRIMARY KEY (handler, version, flow_key),
    CONSTRAINT jobsvc_pauses_target_check CHECK ((handler = ''::text) <> (flow_key = ''::text))
);

-- Bulk actions run as background operations (0009): one replica at a time holds each
-- (owner, lease_until), working in batches newest first from its start along the cursor,
-- saving progress after each batch.
CREATE TABLE jobsvc_operations (
    id                  uuid             NOT NULL,
    action              text             NOT NULL,
    filter              jsonb            NOT NULL,
    state               text             NOT NULL DEFAULT 'running'::text,
    matched             bigint           NOT NULL,
    processed           bigint           NOT NULL DEFAULT 0,
    max_jobs_per_second double precision NOT NULL,
    created_by          text             NOT NULL DEFAULT ''::text,
    created_at          timestamptz      NOT NULL DEFAULT now(),
    updated_at          timestamptz      NOT NULL DEFAULT now(),
    finished_at         timestamptz,
    cursor_created_at   timestamptz      NOT NULL,
    cursor_id           uuid             NOT NULL,
    owner               text,
    lease_until         timestamptz,
    CONSTRAINT jobsvc_operations_action_check CHECK (action = ANY (ARRAY['cancel'::text, 'redrive'::text, 'delete'::text])),
    CONSTRAINT jobsvc_operations_pkey PRIMARY KEY (id),
    CONSTRAINT jobsvc_operations_state_check CHECK (state = ANY (ARRAY['running'::text, 'succeeded'::text, 'cancelled'::text]))
);

-- StreamWorkflow's sequence (0010): each step event of a workflow numbered 1, 2, 3, ...
-- by its readers, not its writers: a stream numbers the events it has not seen yet under
-- the workflow row's lock, after events_stamped (the last number given), so the numbering
-- is gap-free, stored (every reader on every replica sees one order, a reconnecting
-- client resumes from its number) and an event is numbered once ((job_id, seq) unique).
-- Nothing that runs or finishes a step writes here.
CREATE TABLE jobsvc_workflow_events (
    workflow_id uuid    NOT NULL,
    wseq        integer NOT NULL,
    job_id      uuid    NOT NULL,
    seq         integer NOT NULL,
    CONSTRAINT jobsvc_workflow_events_event_key UNIQUE (job_id, seq),
    CONSTRAINT jobsvc_workflow_events_pkey PRIMARY KEY (workflow_id, wseq),
    CONSTRAINT jobsvc_workflow_events_workflow_id_fkey FOREIGN KEY (workflow_id) REFERENCES jobsvc_workflows(id) ON DELETE CASCADE
);

-- The remote worker sessions connected to each replica (WorkerDirectoryService.ListWorkers):
-- written when a session opens, refreshed every few seconds by its replica (in-flight
-- counts), deleted when it ends; rows of a replica that stopped refreshing are ignored.
CREATE TABLE jobsvc_worker_sessions (
    session_id   text        NOT NULL,
    worker_id    text        NOT NULL,
    handlers     text[]      NOT NULL,
    capacity     integer     NOT NULL,
    in_flight    integer     NOT NULL DEFAULT 0,
    replica      text        NOT NULL,
    connected_at timestamptz NOT NULL DEFAULT now(),
    refreshed_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT jobsvc_worker_sessions_pkey PRIMARY KEY (session_id)
);

-- Jobs finished within each minute, per handler version and outcome (0012): the overview's
-- "finished in the last hour" and its chart read these instead of the jobs. Filled by
-- maintenance's roll-up (job_finished_rollup), never by the statements that finish jobs;
-- rows older than a day are deleted by the same roll-up.
CREATE TABLE jobsvc_finished_minutes (
    minute    timestamptz NOT NULL,
    handler   text        NOT NULL,
    version   text        NOT NULL,
    succeeded bigint      NOT NULL DEFAULT 0,
    failed    bigint      NOT NULL DEFAULT 0,
    cancelled bigint      NOT NULL DEFAULT 0,
    CONSTRAINT jobsvc_finished_minutes_pkey PRIMARY KEY (minute, handler, version)
);

-- The roll-up's watermark (one row): every job finished before `through` is counted in
-- jobsvc_finished_minutes (the minute holding it in part), none after it; the overview
-- reads the jobs after it itself.
CREATE TABLE jobsvc_finished_rollup (
    id      boolean     NOT NULL DEFAULT true,
    through timestamptz NOT NULL,
    CONSTRAINT jobsvc_finished_rollup_id_check CHECK (id),
    CONSTRAINT jobsvc_finished_rollup_pkey PRIMARY KEY (id)
);

-- The history (0016): finished jobs moved out of jobsvc_jobs once finished for
-- --history-after and counted by the roll-up, partitioned by the UTC day their retention
-- ends (expires_at = finished_at + retention), so that retention drops a day whole. Its
-- columns: expires_at, then exactly jobsvc_jobs's in the same order (a row moves as
-- `SELECT expires_at, j.*`; readers union the two). A migration that adds a column to
-- jobsvc_jobs adds it here too (tests/store/test_history.py checks they agree).
-- Partitions are made at run time (jobsvc_history_partition), never by a migration.
CREATE TABLE jobsvc_jobs_history (
    expires_at                timestamptz      NOT NULL,
    id                        uuid             NOT NULL,
    handler                   text             NOT NULL,
    version_selector          text             NOT NULL,
    version                   text             NOT NULL,
    state                     text             NOT NULL,
    priority                  integer          NOT NULL DEFAULT 0,
    input                     jsonb,
    input_type_url            text,
    input_data                bytea,
    result                    jsonb,
    result_type_url           text,
    result_data               bytea,
    error                     jsonb,
    attempt                   integer          NOT NULL DEFAULT 0,
    attempt_token             uuid,
    lease_owner               text,
    lease_expires_at          timestamptz,
    idempotency_key           text,
    labels                    jsonb            NOT NULL DEFAULT '{}'::jsonb,
    created_at                timestamptz      NOT NULL DEFAULT now(),
    run_at                    timestamptz      NOT NULL DEFAULT now(),
    started_at                timestamptz,
    finished_at               timestamptz,
    cancel_requested          boolean          NOT NULL DEFAULT false,
    cancel_reason             text,
    last_seq                  integer          NOT NULL DEFAULT 0,
    progress_percent          double precision,
    progress_message          text,
    max_attempts              integer          NOT NULL DEFAULT 3,
    retry_initial_interval    double precision NOT NULL DEFAULT 1,
    retry_backoff_coefficient double precision NOT NULL DEFAULT 2,
    retry_maximum_interval    double precision NOT NULL DEFAULT 300,
    non_retryable_error_types text[]           NOT NULL DEFAULT '{}'::text[],
    attempt_timeout           double precision,
    attempt_deadline          timestamptz,
    deadline_at               timestamptz,
    start_deadline_at         timestamptz,
    attempt_errors            jsonb            NOT NULL DEFAULT '[]'::jsonb,
    input_hash                text,
    cached_from               uuid,
    redrive_of                uuid,
    redriven                  boolean          NOT NULL DEFAULT false,
    retention                 double precision NOT NULL DEFAULT 604800,
    concurrency_key           text,
    concurrency_limit         integer,
    rate_key                  text,
    rate_limit                integer,
    rate_period               double precision,
    fairness_key              text,
    order_at                  timestamptz      NOT NULL DEFAULT now(),
    trace_context             jsonb,
    workflow_id               uuid,
    parent_id                 uuid,
    spawn_key                 text,
    has_children              boolean          NOT NULL DEFAULT false,
    awaiting                  uuid[],
    children_pending          integer          NOT NULL DEFAULT 0,
    sleeps                    jsonb
) PARTITION BY RANGE (expires_at);

-- ListJobs, newest first (merged with jobsvc_jobs_created_idx's walk).
CREATE INDEX jobsvc_jobs_history_created_idx ON jobsvc_jobs_history (created_at DESC, id DESC);

-- ListJobs of one handler.
CREATE INDEX jobsvc_jobs_history_handler_created_idx ON jobsvc_jobs_history (handler, created_at DESC, id DESC);

-- GetJob and Stream of a job no longer in jobsvc_jobs: a probe per partition.
CREATE INDEX jobsvc_jobs_history_id_idx ON jobsvc_jobs_history (id);

-- ListJobs' label filters, as jobsvc_jobs_labels_idx.
CREATE INDEX jobsvc_jobs_history_labels_idx ON jobsvc_jobs_history USING gin (labels jsonb_path_ops)
    WHERE (labels <> '{}'::jsonb);

-- ListJobs of failed or cancelled jobs, rare among the succeeded ones: walking the
-- history by creation for them would read all of it. Only the move writes it (on the live
-- table it would cost every job an entry at submit and at claim).
CREATE INDEX jobsvc_jobs_history_unsucceeded_idx ON jobsvc_jobs_history (state, created_at DESC, id DESC)
    WHERE (state <> 'succeeded'::text);

-- The events of the jobs in jobsvc_jobs_history, moved with them into the partition of
-- the same day: expires_at, then jobsvc_job_events's columns in their order.
CREATE TABLE jobsvc_job_events_history (
    expires_at       timestamptz NOT NULL,
    job_id           uuid        NOT NULL,
    seq              integer     NOT NULL,
    kind             text        NOT NULL,
    "time"           timestamptz NOT NULL DEFAULT now(),
    data             jsonb       NOT NULL DEFAULT '{}'::jsonb,
    payload          jsonb,
    payload_type_url text,
    payload_data     bytea
) PARTITION BY RANGE (expires_at);

-- A job's events in order (Stream of a job in the history).
CREATE INDEX jobsvc_job_events_history_job_idx ON jobsvc_job_events_history (job_id, seq);

-- How far the move to the history has walked jobsvc_jobs_finished_idx (one row): every
-- job finished before (through_at, through_id) has moved or stays in jobsvc_jobs for good
-- (keyed jobs, the dead-letter queue, workflow steps, child jobs and parents), so each
-- finished job is looked at once. Its row lock is the move's mutex between replicas.
CREATE TABLE jobsvc_history_mark (
    id         boolean     NOT NULL DEFAULT true,
    through_at timestamptz NOT NULL,
    through_id uuid        NOT NULL,
    CONSTRAINT jobsvc_history_mark_id_check CHECK (id),
    CONSTRAINT jobsvc_history_mark_pkey PRIMARY KEY (id)
);

-- The backoff after failed attempt p_attempt: initial * coefficient^(p_attempt - 1), at
-- most maximum, computed in logarithms so that no intermediate value overflows or
-- underflows, whatever the stored policy (0006: power() overflowing a double used to fail
-- the attempt's settlement, and stop lease rescue at that job).
CREATE FUNCTION jobsvc_backoff(p_initial double precision, p_coefficient double precision, p_maximum double precision, p_attempt integer)
 RETURNS double precision
 LANGUAGE sql
 IMMUTABLE
AS $function$
    SELECT CASE
        WHEN p_initial <= 0 OR p_coefficient <= 0 OR p_maximum <= 0 THEN greatest(least(p_initial, p_maximum), 0)
        WHEN b.log_delay >= ln(p_maximum) THEN p_maximum
        WHEN b.log_delay < -700 THEN 0
        ELSE exp(b.log_delay)
    END
    FROM (SELECT ln(p_initial) + greatest(p_attempt - 1, 0) * ln(p_coefficient) AS log_delay) AS b
$function$;

-- A child finished: it takes its parent's row lock and, if the parent is parked waiting
-- for it, counts itself off; the decrement that reaches zero queues the parent (0015).
CREATE FUNCTION jobsvc_child_finished()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_state text;
    v_awaiting uuid[];
    v_left integer;
BEGIN
    SELECT state, awaiting INTO v_state, v_awaiting FROM jobsvc_jobs WHERE id = NEW.parent_id FOR UPDATE;
    IF v_state IS DISTINCT FROM 'waiting' OR NOT coalesce(NEW.id = ANY(v_awaiting), false) THEN
        RETURN NULL;
    END IF;
    UPDATE jobsvc_jobs SET children_pending = children_pending - 1
    WHERE id = NEW.parent_id
    RETURNING children_pending INTO v_left;
    IF v_left = 0 THEN
        WITH resumed AS (
            UPDATE jobsvc_jobs SET
                state = 'queued', awaiting = NULL, run_at = now(), order_at = greatest(order_at, now()),
                last_seq = last_seq + 1
            WHERE id = NEW.parent_id
            RETURNING id, last_seq
        )
        INSERT INTO jobsvc_job_events (job_id, seq, kind, data)
        SELECT id, last_seq, 'requeued', jsonb_build_object('reason', 'its child jobs finished') FROM resumed;
        -- Claim loops on every replica look again; watchers of the parent hear of it.
        PERFORM pg_notify('jobsvc_jobs', '');
        PERFORM pg_notify('jobsvc_events', NEW.parent_id::text);
    END IF;
    RETURN NULL;
END;
$function$;

-- The statement trigger function of jobsvc_jobs_concurrency_apply: applies the slot
-- changes jobsvc_concurrency_count noted, one counter write per key in key order (0017:
-- before, a write per job, and a claim of 64 jobs of one key left 64 dead versions of
-- its counter row for the next claim to read past); when that frees a slot on a key that
-- was full, a NOTIFY so that claim loops on every replica look again.
CREATE FUNCTION jobsvc_concurrency_apply()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_noted text := current_setting('jobsvc.slot_changes', true);
    v_freed_full boolean;
BEGIN
    IF coalesce(v_noted, '') = '' THEN
        RETURN NULL;
    END IF;
    PERFORM set_config('jobsvc.slot_changes', '', true);
    WITH noted AS (
        SELECT e ->> 1 AS key, sum((e ->> 0)::integer) AS delta, max((e ->> 2)::integer) AS lim
        FROM jsonb_array_elements(('[' || v_noted || ']')::jsonb) AS e
        GROUP BY 1
        ORDER BY 1
    ), counted AS (
        INSERT INTO jobsvc_concurrency AS c (key, running)
        SELECT key, greatest(delta, 0) FROM noted ORDER BY key
        ON CONFLICT (key) DO UPDATE SET running = greatest(c.running + (
            SELECT n.delta FROM noted n WHERE n.key = excluded.key), 0)
        RETURNING c.key, c.running
    )
    SELECT bool_or(n.delta < 0 AND c.running - n.delta >= n.lim) INTO v_freed_full
    FROM counted c JOIN noted n USING (key);
    IF v_freed_full THEN
        PERFORM pg_notify('jobsvc_jobs', '');
    END IF;
    RETURN NULL;
END;
$function$;

-- The trigger function of jobsvc_jobs_concurrency_count: notes one more running job on
-- the key, or one fewer, as an entry `[delta, "key", limit]` of the transaction-local
-- setting jobsvc.slot_changes, which the statement's jobsvc_concurrency_apply applies.
-- (Noted in a setting, it is undone with a subtransaction rolled back, as the counter
-- write would be.)
CREATE FUNCTION jobsvc_concurrency_count()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_noted text := current_setting('jobsvc.slot_changes', true);
BEGIN
    PERFORM set_config(
        'jobsvc.slot_changes',
        CASE WHEN coalesce(v_noted, '') = '' THEN '' ELSE v_noted || ',' END
            || json_build_array(CASE WHEN NEW.state = 'running' THEN 1 ELSE -1 END,
                                OLD.concurrency_key, OLD.concurrency_limit)::text,
        true);
    RETURN NULL;
END;
$function$;

-- Locks a concurrency key's counter (creating it) and returns its running count as of
-- the lock, not of the calling statement's snapshot: a claim on another replica that
-- committed a moment ago is counted. The lock is held until the claim commits.
CREATE FUNCTION jobsvc_concurrency_lock(p_key text)
 RETURNS integer
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_running integer;
BEGIN
    INSERT INTO jobsvc_concurrency (key) VALUES (p_key) ON CONFLICT (key) DO NOTHING;
    SELECT running INTO v_running FROM jobsvc_concurrency WHERE key = p_key FOR UPDATE;
    RETURN v_running;
END;
$function$;

-- The retry rule, and the one place an attempt fails (executors, worker nacks, attempt
-- timeouts and lease rescue alike). Fails the attempt holding p_token: the job is queued
-- again after the policy's backoff with +-20% jitter (or p_retry_delay), keeping its
-- hand-out order unless it is due later; or, when it may not be retried (non-retryable,
-- attempts used up, the retry would pass its deadline), it FAILED. Logs "retrying" or
-- "failed" and returns the new state; no row when the token is stale. (The caller
-- notifies waiters after commit.)
CREATE FUNCTION jobsvc_fail_attempt(p_id uuid, p_token uuid, p_error jsonb, p_retry_delay double precision, p_non_retryable boolean)
 RETURNS TABLE(new_state text, next_run_at timestamp with time zone, event_seq integer)
 LANGUAGE plpgsql
AS $function$
DECLARE
    j jobsvc_jobs%ROWTYPE;
    v_delay double precision;
    v_error jsonb;
BEGIN
    SELECT * INTO j FROM jobsvc_jobs
    WHERE id = p_id AND attempt_token = p_token AND state = 'running'
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    v_error := p_error || jsonb_build_object('attempt', j.attempt);
    -- Backoff with +-20% jitter, so that jobs failed together do not retry together.
    v_delay := coalesce(p_retry_delay, jobsvc_backoff(
        j.retry_initial_interval, j.retry_backoff_coefficient, j.retry_maximum_interval, j.attempt
    ) * (0.8 + random() * 0.4));
    IF NOT p_non_retryable
       AND NOT coalesce((p_error ->> 'non_retryable')::boolean, false)
       AND j.attempt < j.max_attempts
       AND NOT (coalesce(p_error ->> 'type', '') = ANY (j.non_retryable_error_types))
       AND (j.deadline_at IS NULL OR now() + make_interval(secs => v_delay) < j.deadline_at)
    THEN
        UPDATE jobsvc_jobs SET
            state = 'queued', run_at = now() + make_interval(secs => v_delay),
            order_at = greatest(order_at, now() + make_interval(secs => v_delay)),
            attempt_token = NULL, lease_owner = NULL, lease_expires_at = NULL, attempt_deadline = NULL,
            attempt_errors = attempt_errors || jsonb_build_array(v_error), last_seq = last_seq + 1
        WHERE id = p_id;
        INSERT INTO jobsvc_job_events (job_id, seq, kind, data)
        VALUES (p_id, j.last_seq + 1, 'retrying', jsonb_build_object(
            'error', v_error, 'next_attempt_time', to_jsonb(now() + make_interval(secs => v_delay))));
        new_state := 'queued';
        next_run_at := now() + make_interval(secs => v_delay);
    ELSE
        UPDATE jobsvc_jobs SET
            state = 'failed', error = v_error, finished_at = now(),
            attempt_token = NULL, lease_owner = NULL, lease_expires_at = NULL, attempt_deadline = NULL,
            attempt_errors = attempt_errors || jsonb_build_array(v_error), last_seq = last_seq + 1
        WHERE id = p_id;
        INSERT INTO jobsvc_job_events (job_id, seq, kind, data)
        VALUES (p_id, j.last_seq + 1, 'failed', jsonb_build_object('error', v_error));
        new_state := 'failed';
        next_run_at := NULL;
    END IF;
    event_seq := j.last_seq + 1;
    RETURN NEXT;
END;
$function$;

-- The newest release of a handler in semver order: what '' or 'latest' resolves to in
-- jobsvc_submit, as the server resolves it.
CREATE FUNCTION jobsvc_handler_latest(p_name text)
 RETURNS text
 LANGUAGE sql
 STABLE
AS $function$
    SELECT h.version
    FROM jobsvc_handlers h
    WHERE h.name = p_name AND h.version ~ '^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(\+.*)?$'
    ORDER BY split_part(split_part(h.version, '+', 1), '.', 1)::numeric DESC,
             split_part(split_part(h.version, '+', 1), '.', 2)::numeric DESC,
             split_part(split_part(h.version, '+', 1), '.', 3)::numeric DESC
    LIMIT 1
$function$;

-- The partitions of both history tables for the UTC day p_day, when not made yet: each
-- created apart, then attached (which locks the parent only against other schema
-- changes, not against readers). Run by the move under the mark's row lock.
CREATE FUNCTION jobsvc_history_partition(p_day date)
 RETURNS void
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_from timestamptz := p_day::timestamp AT TIME ZONE 'UTC';
    v_to timestamptz := (p_day + 1)::timestamp AT TIME ZONE 'UTC';
    v_parent text;
    v_name text;
BEGIN
    FOREACH v_parent IN ARRAY ARRAY['jobsvc_jobs_history', 'jobsvc_job_events_history'] LOOP
        v_name := v_parent || '_' || to_char(p_day, 'YYYYMMDD');
        CONTINUE WHEN to_regclass(v_name) IS NOT NULL;
        EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS)', v_name, v_parent);
        EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                       v_parent, v_name, v_from, v_to);
    END LOOP;
END
$function$;

-- Parks a running attempt (ctx.wait, ctx.sleep): WAITING for its unfinished children, or
-- QUEUED until its sleep ends (or now). It writes only the parent's row: the children are
-- read after the parent's lock is taken (see migration 0015).
CREATE FUNCTION jobsvc_job_park(p_job_id uuid, p_token uuid, p_children uuid[], p_until timestamp with time zone, p_sleep_key text)
 RETURNS TABLE(new_state text, event_seq integer, wake_at timestamp with time zone)
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_awaiting uuid[];
    v_pending integer := 0;
    v_wake timestamptz;
    v_sleeps jsonb;
    v_reason text;
BEGIN
    SELECT sleeps INTO v_sleeps FROM jobsvc_jobs
    WHERE id = p_job_id AND attempt_token = p_token AND state = 'running' FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF cardinality(p_children) > 0 THEN
        SELECT array_agg(id ORDER BY id) INTO v_awaiting FROM jobsvc_jobs
        WHERE id = ANY(p_children) AND parent_id = p_job_id AND state IN ('queued', 'running', 'waiting');
        v_pending := coalesce(cardinality(v_awaiting), 0);
    END IF;
    IF p_sleep_key IS NOT NULL THEN
        v_wake := coalesce((v_sleeps ->> p_sleep_key)::timestamptz, p_until);
        v_sleeps := coalesce(v_sleeps, '{}'::jsonb) || jsonb_build_object(p_sleep_key, v_wake);
    END IF;
    v_reason := CASE
        WHEN v_pending > 0 THEN format('waiting for %s child job%s', v_pending, CASE WHEN v_pending > 1 THEN 's' END)
        WHEN v_wake > now() THEN format('sleeping until %s', v_wake)
        ELSE 'resuming' END;
    RETURN QUERY
    WITH parked AS (
        UPDATE jobsvc_jobs SET
            state = CASE WHEN v_pending > 0 THEN 'waiting' ELSE 'queued' END,
            awaiting = v_awaiting, children_pending = v_pending, sleeps = v_sleeps,
            run_at = greatest(coalesce(v_wake, now()), now()),
            order_at = greatest(order_at, coalesce(v_wake, now()), now()),
            lease_owner = NULL, lease_expires_at = NULL, attempt_token = NULL, attempt_deadline = NULL,
            -- It started once: a schedule-to-start timeout is met, not due again on resume.
            start_deadline_at = NULL, attempt = attempt - 1, last_seq = last_seq + 1
        WHERE id = p_job_id
        RETURNING state, last_seq, run_at
    ), parked_event AS (
        INSERT INTO jobsvc_job_events (job_id, seq, kind, data)
        SELECT p_job_id, last_seq, 'requeued', jsonb_build_object('reason', v_reason) FROM parked
    )
    SELECT state, last_seq, CASE WHEN state = 'queued' THEN run_at END FROM parked;
END;
$function$;

-- Whether a bulk action's filter selects a job and the action applies to it: the one
-- definition, for the dry-run count and every batch. On the job's columns (0016), so that
-- it reads the rows of jobsvc_jobs and of the history alike; one SELECT, inlined.
CREATE FUNCTION jobsvc_job_selected(f jsonb, action text, state text, redriven boolean, handler text, version text, labels jsonb, concurrency_key text, rate_key text, fairness_key text, created_at timestamp with time zone)
 RETURNS boolean
 LANGUAGE sql
 STABLE
AS $function$
    SELECT coalesce(
        CASE action
            WHEN 'cancel' THEN state IN ('queued', 'waiting', 'running')
            WHEN 'redrive' THEN state = 'failed' AND NOT redriven
            WHEN 'delete' THEN state IN ('succeeded', 'failed', 'cancelled')
        END
        AND (f -> 'states' IS NULL OR (f -> 'states') ? state)
        AND (f ->> 'handler' IS NULL OR handler = f ->> 'handler')
        AND (f ->> 'version' IS NULL OR version = f ->> 'version')
        AND (f -> 'labels' IS NULL OR labels @> (f -> 'labels'))
        AND (f ->> 'flow_key' IS NULL OR f ->> 'flow_key' IN (concurrency_key, rate_key, fairness_key))
        AND (f ->> 'created_after' IS NULL OR created_at >= (f ->> 'created_after')::timestamptz)
        AND (f ->> 'created_before' IS NULL OR created_at < (f ->> 'created_before')::timestamptz),
        false)
$function$;

-- A cancelled parent's unfinished children are cancelled in the same transaction.
CREATE FUNCTION jobsvc_parent_cancelled()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_reason text := format('parent job %s cancelled', NEW.id);
    v_notified integer;
BEGIN
    WITH cancelled AS (
        UPDATE jobsvc_jobs j SET
            state = 'cancelled', finished_at = now(), cancel_reason = v_reason, last_seq = j.last_seq + 1
        FROM (SELECT id FROM jobsvc_jobs WHERE parent_id = NEW.id AND state IN ('queued', 'waiting')
              ORDER BY id FOR UPDATE) c
        WHERE j.id = c.id
        RETURNING j.id, j.last_seq
    ), cancelled_event AS (
        INSERT INTO jobsvc_job_events (job_id, seq, kind, data)
        SELECT id, last_seq, 'cancelled', jsonb_build_object('reason', v_reason) FROM cancelled
    )
    SELECT count(*) INTO v_notified FROM (
        SELECT pg_notify('jobsvc_events', string_agg(id::text, ','))
        FROM (SELECT id, (row_number() OVER () - 1) / 200 AS chunk FROM cancelled) c
        GROUP BY chunk
    ) n;
    WITH asked AS (
        UPDATE jobsvc_jobs SET cancel_requested = true,
            cancel_reason = CASE WHEN cancel_requested THEN cancel_reason ELSE v_reason END
        WHERE parent_id = NEW.id AND state = 'running'
        RETURNING pg_notify('jobsvc_cancel', id::text)
    )
    SELECT count(*) INTO v_notified FROM asked;
    RETURN NULL;
END;
$function$;

-- Takes up to p_wanted starts from key p_key's window; returns how many were granted and
-- the grant time (the jobs' started_at, so a window over started_at is exact). Runs by
-- the wall clock (clock_timestamp()), not the claim's transaction time.
CREATE FUNCTION jobsvc_rate_take(p_key text, p_capacity integer, p_period double precision, p_wanted integer)
 RETURNS TABLE(granted integer, granted_at timestamp with time zone)
 LANGUAGE plpgsql
AS $function$
DECLARE
    w jobsvc_rate_windows%ROWTYPE;
    v_now timestamptz;
    v_times timestamptz[];
    v_counts integer[];
    v_used integer;
BEGIN
    INSERT INTO jobsvc_rate_windows (key, capacity, period) VALUES (p_key, p_capacity, p_period)
    ON CONFLICT (key) DO NOTHING;
    SELECT * INTO w FROM jobsvc_rate_windows WHERE key = p_key FOR UPDATE;
    v_now := clock_timestamp();
    -- A grant at t still counts at t + period: the next one comes strictly after.
    SELECT coalesce(array_agg(t ORDER BY t), '{}'), coalesce(array_agg(c ORDER BY t), '{}'), coalesce(sum(c), 0)
    INTO v_times, v_counts, v_used
    FROM unnest(w.grant_times, w.grant_counts) AS g(t, c)
    WHERE t >= v_now - make_interval(secs => p_period);
    granted := least(p_wanted, greatest(p_capacity - v_used, 0));
    IF granted > 0 THEN
        v_times := v_times || v_now;
        v_counts := v_counts || granted;
    END IF;
    UPDATE jobsvc_rate_windows SET
        capacity = p_capacity, period = p_period, grant_times = v_times, grant_counts = v_counts,
        blocked_until = CASE WHEN v_used + granted >= p_capacity
                             THEN v_times[1] + make_interval(secs => p_period) + interval '1 millisecond' END
    WHERE key = p_key;
    granted_at := v_now;
    RETURN NEXT;
END;
$function$;

-- One flow-control key rendered from its template as jobsvc.domain.flow.render_key does,
-- for jobsvc_submit (0013); a missing field raises invalid_parameter_value naming it.
CREATE FUNCTION jobsvc_render_key(template text, handler text, version text, input jsonb, labels jsonb)
 RETURNS text
 LANGUAGE plpgsql
 IMMUTABLE
 SET extra_float_digits TO '1'
AS $function$
DECLARE
    v_rest text := template;
    v_out text := '';
    v_open integer;
    v_close integer;
    v_path text;
    v_name text;
    v_node jsonb;
    v_part text;
    v_number double precision;
    v_value text;
BEGIN
    LOOP
        v_open := strpos(v_rest, '{');
        EXIT WHEN v_open = 0;
        v_close := strpos(substr(v_rest, v_open + 1), '}');
        EXIT WHEN v_close = 0;  -- never: the server checks templates when a version registers
        v_path := substr(v_rest, v_open + 1, v_close - 1);
        v_out := v_out || left(v_rest, v_open - 1);
        v_rest := substr(v_rest, v_open + v_close + 1);
        IF v_path = 'handler' THEN
            v_value := handler;
        ELSIF v_path = 'version' THEN
            v_value := version;
        ELSIF v_path LIKE 'label.%' THEN
            v_name := substr(v_path, 7);
            v_value := labels ->> v_name;
            IF v_value IS NULL THEN
                RAISE EXCEPTION 'jobsvc_submit: label % is required by the key %', quote_literal(v_name),
                    quote_literal(template) USING ERRCODE = 'invalid_parameter_value', COLUMN = 'labels';
            END IF;
        ELSE
            v_name := substr(split_part(v_path, '|', 1), 7);
            v_node := input;
            FOREACH v_part IN ARRAY string_to_array(v_name, '.') LOOP
                IF jsonb_typeof(v_node) IS DISTINCT FROM 'object' OR NOT v_node ? v_part THEN
                    RAISE EXCEPTION 'jobsvc_submit: input field % is required by the key %', quote_literal(v_name),
                        quote_literal(template) USING ERRCODE = 'invalid_parameter_value', COLUMN = 'input.' || v_name;
                END IF;
                v_node := v_node -> v_part;
            END LOOP;
            IF jsonb_typeof(v_node) NOT IN ('string', 'number', 'boolean') THEN
                RAISE EXCEPTION 'jobsvc_submit: input field % must be a string, number or boolean for the key %',
                    quote_literal(v_name), quote_literal(template)
                    USING ERRCODE = 'invalid_parameter_value', COLUMN = 'input.' || v_name;
            END IF;
            IF v_path LIKE '%|host' THEN
                v_value := CASE WHEN jsonb_typeof(v_node) = 'string' THEN jobsvc_url_host(v_node #>> '{}') END;
                IF v_value IS NULL THEN
                    RAISE EXCEPTION 'jobsvc_submit: input field % must be an http(s) URL with a host for the key %',
                        quote_literal(v_name), quote_literal(template)
                        USING ERRCODE = 'invalid_parameter_value', COLUMN = 'input.' || v_name,
                        HINT = 'In SQL the host must be an ASCII name or an IP literal, the URL without white space; '
                               'submit other URLs over gRPC.';
                END IF;
            ELSIF jsonb_typeof(v_node) = 'number' THEN
                v_number := v_node::double precision;
                IF v_number = trunc(v_number) AND abs(v_number) < 9.2e18 THEN
                    v_value := v_number::bigint::text;
                ELSIF v_number <> trunc(v_number) AND abs(v_number) < 1e15 THEN
                    v_value := v_number::text;
                ELSE
                    RAISE EXCEPTION 'jobsvc_submit: input field % is a number too large for the key % in SQL',
                        quote_literal(v_name), quote_literal(template)
                        USING ERRCODE = 'invalid_parameter_value', COLUMN = 'input.' || v_name,
                        HINT = 'Submit it over gRPC.';
                END IF;
            ELSE
                v_value := v_node #>> '{}';  -- a string as it is; true, false
            END IF;
        END IF;
        v_out := v_out || v_value;
    END LOOP;
    v_out := v_out || v_rest;
    IF octet_length(v_out) > 256 THEN
        RAISE EXCEPTION 'jobsvc_submit: the key rendered from % is longer than 256 bytes', quote_literal(template)
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'input';
    END IF;
    RETURN v_out;
END;
$function$;

-- Submit from the application's own transaction (0009): the job exists only if it
-- commits, and the NOTIFY that wakes every replica's claim loops is sent at that commit.
-- Checks what PostgreSQL can (handler and exact or latest version registered, JSON input,
-- labels); renders flow-control keys as the server does (0013), refusing a key it cannot
-- render exactly so; not the input's JSON schema; refuses protobuf handlers.
CREATE FUNCTION jobsvc_submit(handler text, input jsonb DEFAULT 'null'::jsonb, version text DEFAULT ''::text, priority integer DEFAULT 0, labels jsonb DEFAULT '{}'::jsonb, run_at timestamp with time zone DEFAULT NULL::timestamp with time zone, idempotency_key text DEFAULT NULL::text, max_attempts integer DEFAULT NULL::integer)
 RETURNS uuid
 LANGUAGE plpgsql
AS $function$
#variable_conflict use_column
DECLARE
    v_selector text := coalesce(jobsvc_submit.version, '');
    v_exact text := regexp_replace(coalesce(jobsvc_submit.version, ''), '^(=|v)+', '');
    v_handler jobsvc_handlers%ROWTYPE;
    v_policy jsonb;
    v_labels jsonb := coalesce(jobsvc_submit.labels, '{}'::jsonb);
    v_input jsonb := coalesce(jobsvc_submit.input, 'null'::jsonb);
    v_due timestamptz := greatest(coalesce(jobsvc_submit.run_at, now()), now());
    v_id uuid := gen_random_uuid();
    v_existing jobsvc_jobs%ROWTYPE;
    -- Flow control, read as FlowControl.from_json reads it (a part without its limit is absent).
    v_flow jsonb;
    v_concurrency_key text;
    v_concurrency_limit integer;
    v_rate_key text;
    v_rate_limit integer;
    v_rate_period double precision;
    v_fair_key text;
    v_spacing double precision;
    v_order timestamptz;
BEGIN
    IF jobsvc_submit.handler IS NULL OR jobsvc_submit.handler = '' THEN
        RAISE EXCEPTION 'jobsvc_submit: handler is required' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF v_selector IN ('', 'latest', '*', 'x') THEN
        v_exact := jobsvc_handler_latest(jobsvc_submit.handler);
    ELSIF v_exact !~ '^[0-9]+\.[0-9]+\.[0-9]+([-+].*)?$' THEN
        RAISE EXCEPTION 'jobsvc_submit: version % is a range; in SQL give an exact version or latest', v_selector
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Submit over gRPC to resolve ranges.';
    END IF;
    SELECT * INTO v_handler FROM jobsvc_handlers h WHERE h.name = jobsvc_submit.handler AND h.version = v_exact;
    IF NOT FOUND THEN
        IF NOT EXISTS (SELECT 1 FROM jobsvc_handlers h WHERE h.name = jobsvc_submit.handler) THEN
            RAISE EXCEPTION 'jobsvc_submit: no handler named % is registered', jobsvc_submit.handler
                USING ERRCODE = 'no_data_found';
        END IF;
        RAISE EXCEPTION 'jobsvc_submit: handler % has no version matching %', jobsvc_submit.handler,
            coalesce(nullif(v_selector, ''), 'latest') USING ERRCODE = 'no_data_found';
    END IF;
    IF v_handler.input_type <> '' THEN
        RAISE EXCEPTION 'jobsvc_submit: %@% takes a % message; submit it over gRPC', v_handler.name,
            v_handler.version, v_handler.input_type USING ERRCODE = 'feature_not_supported';
    END IF;
    IF jsonb_typeof(v_labels) <> 'object'
       OR EXISTS (SELECT 1 FROM jsonb_each(v_labels) l WHERE jsonb_typeof(l.value) <> 'string') THEN
        RAISE EXCEPTION 'jobsvc_submit: labels must be a JSON object of strings' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF jobsvc_submit.max_attempts IS NOT NULL AND jobsvc_submit.max_attempts < 1 THEN
        RAISE EXCEPTION 'jobsvc_submit: max_attempts must be at least 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;

    v_flow := coalesce(v_handler.flow_control, '{}'::jsonb);
    IF jsonb_typeof(v_flow #> '{concurrency,max_running}') = 'number' THEN
        v_concurrency_limit := (v_flow #>> '{concurrency,max_running}')::integer;
        v_concurrency_key := jobsvc_render_key(coalesce(nullif(v_flow #>> '{concurrency,key}', ''), '{handler}'),
            v_handler.name, v_handler.version, v_input, v_labels);
    END IF;
    IF jsonb_typeof(v_flow #> '{rate,max_starts}') = 'number' THEN
        v_rate_limit := (v_flow #>> '{rate,max_starts}')::integer;
        v_rate_period := CASE WHEN jsonb_typeof(v_flow #> '{rate,period}') = 'number'
                              THEN (v_flow #>> '{rate,period}')::double precision ELSE 1 END;
        v_rate_key := jobsvc_render_key(coalesce(nullif(v_flow #>> '{rate,key}', ''), '{handler}'),
            v_handler.name, v_handler.version, v_input, v_labels);
    END IF;
    IF jsonb_typeof(v_flow #> '{fairness,key}') = 'string' THEN
        v_spacing := CASE WHEN jsonb_typeof(v_flow #> '{fairness,spacing}') = 'number'
                          THEN (v_flow #>> '{fairness,spacing}')::double precision ELSE 1 END;
        v_fair_key := jobsvc_render_key(v_flow #>> '{fairness,key}', v_handler.name, v_handler.version,
            v_input, v_labels);
    END IF;
    v_order := v_due;
    IF v_fair_key IS NOT NULL THEN
        -- The key's virtual clock moves on by one spacing; the job takes the slot it moved
        -- from (or now, if the clock lags), as job_insert_many gives a batch of one.
        INSERT INTO jobsvc_fair_clocks AS f (key, next_at)
        VALUES (v_fair_key, now() + make_interval(secs => v_spacing))
        ON CONFLICT (key) DO UPDATE SET next_at = greatest(f.next_at, now()) + (excluded.next_at - now())
        RETURNING greatest(v_due, f.next_at - make_interval(secs => v_spacing)) INTO v_order;
    END IF;

    v_policy := coalesce(v_handler.retry_policy, '{}'::jsonb);
    INSERT INTO jobsvc_jobs
        (id, handler, version_selector, version, state, priority, input, idempotency_key, labels,
         run_at, order_at, last_seq, max_attempts, retry_initial_interval, retry_backoff_coefficient,
         retry_maximum_interval, non_retryable_error_types, attempt_timeout, retention,
         concurrency_key, concurrency_limit, rate_key, rate_limit, rate_period, fairness_key)
    VALUES
        (v_id, v_handler.name, v_selector, v_handler.version, 'queued', coalesce(jobsvc_submit.priority, 0),
         v_input, jobsvc_submit.idempotency_key, v_labels, v_due, v_order, 1,
         -- The defaults are those of DEFAULT_RETRY_POLICY and DEFAULT_RETENTION_SECONDS.
         coalesce(jobsvc_submit.max_attempts, (v_policy ->> 'maximum_attempts')::integer, 3),
         coalesce((v_policy ->> 'initial_interval')::double precision, 1),
         coalesce((v_policy ->> 'backoff_coefficient')::double precision, 2),
         coalesce((v_policy ->> 'maximum_interval')::double precision, 300),
         coalesce(ARRAY(SELECT jsonb_array_elements_text(v_policy -> 'non_retryable_error_types')), '{}'),
         v_handler.attempt_timeout,
         coalesce(v_handler.retention, 604800),
         v_concurrency_key, v_concurrency_limit, v_rate_key, v_rate_limit, v_rate_period, v_fair_key)
    ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING;
    IF NOT FOUND THEN
        SELECT * INTO v_existing FROM jobsvc_jobs j WHERE j.idempotency_key = jobsvc_submit.idempotency_key;
        IF v_existing.handler IS DISTINCT FROM v_handler.name OR v_existing.input IS DISTINCT FROM v_input THEN
            RAISE EXCEPTION 'jobsvc_submit: idempotency key % was used by job % with other content',
                jobsvc_submit.idempotency_key, v_existing.id USING ERRCODE = 'unique_violation';
        END IF;
        RETURN v_existing.id;
    END IF;
    INSERT INTO jobsvc_job_events (job_id, seq, kind, time, data)
    VALUES (v_id, 1, 'queued', now(), jsonb_build_object('handler', v_handler.name, 'version', v_handler.version));
    -- Delivered at commit (and folded with equal ones of the same transaction), so a
    -- thousand submits in one transaction wake each replica once. The payload is what
    -- JobsDue sends: '' for now, else the epoch second the job is due.
    PERFORM pg_notify('jobsvc_jobs',
        CASE WHEN v_due <= now() THEN '' ELSE to_char(extract(epoch FROM v_due), 'FM9999999999990.000') END);
    RETURN v_id;
END;
$function$;

-- The host:port `{input.url|host}` renders, as jobsvc.domain.flow.url_host reads a URL;
-- NULL for other values and for URLs whose reading by urlsplit is subtle (0013).
CREATE FUNCTION jobsvc_url_host(url text)
 RETURNS text
 LANGUAGE plpgsql
 IMMUTABLE
AS $function$
DECLARE
    m text[] := regexp_match(url,
        '^([A-Za-z][A-Za-z0-9+.-]*)://(?:[^/?#@\s\\]*@)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~-]+)(?::([0-9]{1,5}))?([/?#].*)?$');
    v_scheme text := lower(m[1]);
    v_host text := lower(m[2]);
    v_port integer := m[3]::integer;
BEGIN
    IF m IS NULL OR v_scheme NOT IN ('http', 'https') OR v_port > 65535 THEN
        RETURN NULL;
    END IF;
    IF left(v_host, 1) = '[' THEN
        BEGIN
            IF family(btrim(v_host, '[]')::inet) <> 6 THEN
                RETURN NULL;  -- [1.2.3.4]: urlsplit refuses a bracketed IPv4 address
            END IF;
        EXCEPTION WHEN invalid_text_representation THEN
            RETURN NULL;
        END;
    END IF;
    RETURN v_host || ':' || coalesce(nullif(v_port, 0), CASE v_scheme WHEN 'http' THEN 80 ELSE 443 END);
END;
$function$;

-- Fan-out: a mapped step whose parents have finished makes one queued job (and step row,
-- `name[i]`) per element of its list, copies of its own job with the element in the
-- input, and then waits for them as for parents (pending = their count); an empty list
-- succeeds at once with [].
CREATE FUNCTION jobsvc_workflow_step_expand(p_step jobsvc_workflow_steps, p_input jsonb, p_list jsonb)
 RETURNS void
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_count integer := jsonb_array_length(p_list);
BEGIN
    IF v_count = 0 THEN
        PERFORM jobsvc_workflow_step_succeed(p_step.job_id, '[]'::jsonb);
        RETURN;
    END IF;
    WITH elements AS (
        SELECT gen_random_uuid() AS id, e.value, (e.ord - 1)::integer AS item
        FROM jsonb_array_elements(p_list) WITH ORDINALITY AS e(value, ord)
    ), jobs AS (
        INSERT INTO jobsvc_jobs
            (id, handler, version_selector, version, state, priority, input, labels, run_at, order_at, last_seq,
             max_attempts, retry_initial_interval, retry_backoff_coefficient, retry_maximum_interval,
             non_retryable_error_types, attempt_timeout, deadline_at, start_deadline_at, retention,
             concurrency_key, concurrency_limit, rate_key, rate_limit, rate_period, fairness_key, trace_context,
             workflow_id)
        SELECT e.id, j.handler, j.version_selector, j.version, 'queued', j.priority,
               CASE WHEN coalesce(p_step.map ->> 'key', '') = '' THEN coalesce(p_input, '{}'::jsonb) || e.value
                    ELSE coalesce(p_input, '{}'::jsonb) || jsonb_build_object(p_step.map ->> 'key', e.value) END,
               j.labels, greatest(j.run_at, now()), greatest(j.order_at, now()), 1,
               j.max_attempts, j.retry_initial_interval, j.retry_backoff_coefficient, j.retry_maximum_interval,
               j.non_retryable_error_types, j.attempt_timeout, j.deadline_at,
               j.start_deadline_at + (greatest(j.run_at, now()) - j.run_at), j.retention,
               j.concurrency_key, j.concurrency_limit, j.rate_key, j.rate_limit, j.rate_period, j.fairness_key,
               j.trace_context, j.workflow_id
        FROM elements e, jobsvc_jobs j
        WHERE j.id = p_step.job_id
        RETURNING id, handler, version, created_at
    ), queued_event AS (
        INSERT INTO jobsvc_job_events (job_id, seq, kind, time, data)
        SELECT id, 1, 'queued', created_at, jsonb_build_object('handler', handler, 'version', version) FROM jobs
    )
    INSERT INTO jobsvc_workflow_steps (job_id, workflow_id, position, name, child_ids, optional, map_of, item)
    SELECT e.id, p_step.workflow_id, p_step.position, format('%s[%s]', p_step.name, e.item),
           ARRAY[p_step.job_id], p_step.optional, p_step.name, e.item
    FROM elements e;
    -- The mapped step waits for its elements now: each counts itself off as any parent.
    UPDATE jobsvc_workflow_steps SET expanded = true, pending = v_count WHERE job_id = p_step.job_id;
    UPDATE jobsvc_jobs SET input = p_input WHERE id = p_step.job_id;
    PERFORM pg_notify('jobsvc_jobs', '');
END;
$function$;

-- Fails a waiting step that cannot run (a missing field path, a list too long to map),
-- with its failed event: its own trigger then applies the failure policy below it.
CREATE FUNCTION jobsvc_workflow_step_fail(p_job_id uuid, p_type text, p_message text)
 RETURNS void
 LANGUAGE plpgsql
AS $function$
BEGIN
    WITH failed AS (
        UPDATE jobsvc_jobs SET
            state = 'failed', finished_at = now(), last_seq = last_seq + 1,
            error = jsonb_build_object('type', p_type, 'message', p_message,
                                       'traceback', '', 'attempt', attempt, 'non_retryable', true)
        WHERE id = p_job_id
        RETURNING id, last_seq, error
    )
    INSERT INTO jobsvc_job_events (job_id, seq, kind, data)
    SELECT id, last_seq, 'failed', jsonb_build_object('error', error) FROM failed;
    PERFORM pg_notify('jobsvc_events', p_job_id::text);
END;
$function$;

-- The trigger function of jobsvc_jobs_workflow_step, run in the transaction that gives a
-- step its terminal state. Succeeded, or optional: the step is counted off each dependant
-- under the dependant's row lock (taken in id order), and the one decrement that reaches
-- zero queues it (jobsvc_workflow_step_ready); no other transaction can see that zero, as
-- each decrement reads the counter as the last committed one left it. Failed or
-- cancelled and required: its waiting dependants are cancelled, and their own triggers
-- carry the policy further down.
CREATE FUNCTION jobsvc_workflow_step_finished()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_step jobsvc_workflow_steps%ROWTYPE;
    v_child record;
    v_reason text;
    v_notified integer;
BEGIN
    SELECT * INTO v_step FROM jobsvc_workflow_steps WHERE job_id = NEW.id;
    IF NOT FOUND OR cardinality(v_step.child_ids) = 0 THEN
        RETURN NULL;
    END IF;
    IF NEW.state = 'succeeded' OR v_step.optional THEN
        -- Count this parent off each dependant, locking them in id order (the order of
        -- job_finish_many's dependants_locked): the decrement that reaches zero queues it.
        FOR v_child IN
            WITH locked AS MATERIALIZED (
                SELECT job_id FROM jobsvc_workflow_steps
                WHERE job_id = ANY(v_step.child_ids) ORDER BY job_id FOR UPDATE
            )
            UPDATE jobsvc_workflow_steps s SET pending = s.pending - 1
            FROM locked WHERE s.job_id = locked.job_id
            RETURNING s.job_id, s.pending
        LOOP
            IF v_child.pending = 0 THEN
                PERFORM jobsvc_workflow_step_ready(v_child.job_id);
            END IF;
        END LOOP;
    ELSE
        -- A required step failed or was cancelled: its waiting dependants are cancelled
        -- (in id order); their own triggers carry the policy further down the graph.
        v_reason := format('step %s %s', v_step.name, NEW.state);
        PERFORM 1 FROM jobsvc_workflow_steps WHERE job_id = ANY(v_step.child_ids) ORDER BY job_id FOR UPDATE;
        WITH cancelled AS (
            UPDATE jobsvc_jobs j SET
                state = 'cancelled', finished_at = now(), cancel_reason = v_reason, last_seq = j.last_seq + 1
            FROM (SELECT id FROM jobsvc_jobs WHERE id = ANY(v_step.child_ids) AND state = 'waiting'
                  ORDER BY id FOR UPDATE) w
            WHERE j.id = w.id
            RETURNING j.id, j.last_seq
        ), cancelled_event AS (
            INSERT INTO jobsvc_job_events (job_id, seq, kind, data)
            SELECT id, last_seq, 'cancelled', jsonb_build_object('reason', v_reason) FROM cancelled
        )
        -- Waiters hear of the cancellations at commit (200 ids a NOTIFY, as job_finish_many).
        SELECT count(*) INTO v_notified FROM (
            SELECT pg_notify('jobsvc_events', string_agg(id::text, ','))
            FROM (SELECT id, (row_number() OVER () - 1) / 200 AS chunk FROM cancelled) c
            GROUP BY chunk
        ) n;
    END IF;
    RETURN NULL;
END;
$function$;

-- Readies a waiting step whose last parent just finished (a mapped step expands instead,
-- or, when its elements have all finished, succeeds with their results in order).
-- Queues a waiting step whose last parent just finished, its input being its literal input
-- with the values taken from its parents' results merged over it (an optional parent that
-- failed gives {"error": ...} instead). A field path missing from a result fails the step
-- with jobsvc.WorkflowInputMissing, not the statement that finished the parent.
CREATE FUNCTION jobsvc_workflow_step_ready(p_job_id uuid)
 RETURNS void
 LANGUAGE plpgsql
AS $function$
DECLARE
    s jobsvc_workflow_steps%ROWTYPE;
    j jobsvc_jobs%ROWTYPE;
    parent jobsvc_jobs%ROWTYPE;
    item jsonb;
    v_input jsonb;
    v_value jsonb;
    v_problem text;
BEGIN
    SELECT * INTO j FROM jobsvc_jobs WHERE id = p_job_id AND state = 'waiting' FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;  -- cancelled meanwhile
    END IF;
    SELECT * INTO s FROM jobsvc_workflow_steps WHERE job_id = p_job_id;
    IF s.expanded THEN
        -- A mapped step whose elements have all finished: their results, in list order.
        PERFORM jobsvc_workflow_step_succeed(p_job_id, (
            SELECT coalesce(jsonb_agg(CASE WHEN e.state = 'succeeded' THEN coalesce(e.result, 'null'::jsonb)
                ELSE jsonb_build_object('error', coalesce(e.error, jsonb_build_object(
                    'type', 'jobsvc.Cancelled', 'message', coalesce(e.cancel_reason, 'cancelled')))) END
                ORDER BY es.item), '[]'::jsonb)
            FROM jobsvc_workflow_steps es JOIN jobsvc_jobs e ON e.id = es.job_id
            WHERE es.workflow_id = s.workflow_id AND es.position = s.position AND es.item IS NOT NULL));
        RETURN;
    END IF;
    v_input := j.input;
    FOR item IN SELECT value FROM jsonb_array_elements(s.inputs) LOOP
        SELECT * INTO parent FROM jobsvc_jobs WHERE id = (item ->> 'job_id')::uuid;
        IF parent.state IS DISTINCT FROM 'succeeded' THEN
            -- An optional parent that failed or was cancelled: its error takes the place of its result.
            v_value := jsonb_build_object('error', coalesce(parent.error, jsonb_build_object(
                'type', 'jobsvc.Cancelled', 'message', coalesce(parent.cancel_reason, 'cancelled'))));
        ELSIF parent.result_type_url IS NOT NULL THEN
            v_problem := format('step %s returned a protobuf message; a step takes fields only of JSON results',
                                item ->> 'step');
            EXIT;
        ELSE
            v_value := parent.result #> ARRAY(SELECT jsonb_array_elements_text(item -> 'path'));
            IF v_value IS NULL THEN
                v_problem := format('field path %s is not in the result of step %s',
                                    coalesce(nullif(array_to_string(ARRAY(
                                        SELECT jsonb_array_elements_text(item -> 'path')), '.'), ''), '(whole result)'),
                                    item ->> 'step');
                EXIT;
            END IF;
        END IF;
        IF coalesce(item ->> 'key', '') = '' THEN
            IF jsonb_typeof(v_value) <> 'object' THEN
                v_problem := format('the value taken from step %s is a JSON %s, not an object to merge into the input',
                                    item ->> 'step', jsonb_typeof(v_value));
                EXIT;
            END IF;
            v_input := coalesce(v_input, '{}'::jsonb) || v_value;
        ELSE
            v_input := coalesce(v_input, '{}'::jsonb) || jsonb_build_object(item ->> 'key', v_value);
        END IF;
    END LOOP;
    IF v_problem IS NULL AND s.map IS NOT NULL THEN
        SELECT * INTO parent FROM jobsvc_jobs WHERE id = (s.map ->> 'job_id')::uuid;
        v_value := CASE WHEN parent.state = 'succeeded' AND parent.result_type_url IS NULL
                        THEN parent.result #> ARRAY(SELECT jsonb_array_elements_text(s.map -> 'path')) END;
        IF jsonb_typeof(v_value) IS DISTINCT FROM 'array' THEN
            v_problem := format('step %s has no list at %s to map over', s.map ->> 'step',
                                coalesce(nullif(array_to_string(ARRAY(
                                    SELECT jsonb_array_elements_text(s.map -> 'path')), '.'), ''), '(whole result)'));
        ELSIF coalesce(s.map ->> 'key', '') = '' AND EXISTS (
                SELECT 1 FROM jsonb_array_elements(v_value) e WHERE jsonb_typeof(e) <> 'object') THEN
            v_problem := format('the list of step %s holds elements that are not objects to merge into the input'
                                ' (give map.key)', s.map ->> 'step');
        ELSIF jsonb_array_length(v_value) > (s.map ->> 'max_items')::integer THEN
            PERFORM jobsvc_workflow_step_fail(p_job_id, 'jobsvc.WorkflowMapTooLong', format(
                'the list of step %s has %s elements, over this step''s max_items of %s',
                s.map ->> 'step', jsonb_array_length(v_value), s.map ->> 'max_items'));
            RETURN;
        ELSE
            PERFORM jobsvc_workflow_step_expand(s, v_input, v_value);
            RETURN;
        END IF;
    END IF;
    IF v_problem IS NOT NULL THEN
        -- The step fails, not the statement that finished its parent: its own trigger
        -- then applies the failure policy to its dependants.
        PERFORM jobsvc_workflow_step_fail(p_job_id, 'jobsvc.WorkflowInputMissing', v_problem);
        RETURN;
    END IF;
    -- Due now. A schedule-to-start deadline counts from here, as for any job from when it is due.
    UPDATE jobsvc_jobs SET
        state = 'queued', input = v_input,
        run_at = greatest(run_at, now()), order_at = greatest(order_at, now()),
        start_deadline_at = start_deadline_at + (greatest(run_at, now()) - run_at)
    WHERE id = p_job_id;
    -- Claim loops on every replica look again (one NOTIFY per transaction: equal ones fold).
    PERFORM pg_notify('jobsvc_jobs', '');
END;
$function$;

-- Retention deletes a step's job like any job's: its step row goes with it, and the
-- workflow with its last step.
CREATE FUNCTION jobsvc_workflow_step_reaped()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    DELETE FROM jobsvc_workflow_steps WHERE job_id = OLD.id;
    DELETE FROM jobsvc_workflows w WHERE w.id = OLD.workflow_id
        AND NOT EXISTS (SELECT 1 FROM jobsvc_workflow_steps s WHERE s.workflow_id = OLD.workflow_id);
    RETURN NULL;
END;
$function$;

-- RedriveWorkflowStep (0010): a FAILED required step's job back to waiting with as many
-- attempts again, its cancelled dependants revived, then made ready as when its last
-- parent finished (input resolved again, a mapped step expands). False: not FAILED.
CREATE FUNCTION jobsvc_workflow_step_redrive(p_job_id uuid, p_because text)
 RETURNS boolean
 LANGUAGE plpgsql
AS $function$
BEGIN
    -- The workflow row first, as CancelWorkflow takes it: a cancel committed meanwhile is
    -- seen here (this statement starts after it), and one that comes later cancels the step.
    PERFORM 1 FROM jobsvc_workflows w
    WHERE w.id = (SELECT workflow_id FROM jobsvc_workflow_steps WHERE job_id = p_job_id) AND w.cancel_reason IS NULL
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM 1 FROM jobsvc_workflow_steps WHERE job_id = p_job_id FOR UPDATE;
    WITH redriven AS (
        UPDATE jobsvc_jobs SET state = 'waiting', finished_at = NULL, error = NULL,
            max_attempts = attempt + max_attempts, last_seq = last_seq + 1
        WHERE id = p_job_id AND state = 'failed'
        RETURNING id, last_seq
    )
    INSERT INTO jobsvc_job_events (job_id, seq, kind, data)
    SELECT id, last_seq, 'requeued', jsonb_build_object('reason', p_because) FROM redriven;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM jobsvc_workflow_step_revive(p_job_id, p_because);
    PERFORM jobsvc_workflow_step_ready(p_job_id);
    PERFORM pg_notify('jobsvc_events', p_job_id::text);
    RETURN true;
END;
$function$;

-- Redrive of a failed step (0010): the dependants its failure cancelled come back to
-- waiting, all the way down, their pending counters untouched (a failed required parent
-- counts nothing off), so the join rule holds unchanged. Only those the failure policy
-- cancelled (cancel_reason `step PARENT failed|cancelled`) and with no other required
-- parent failed or cancelled (they would wait for a parent that never finishes).
CREATE FUNCTION jobsvc_workflow_step_revive(p_job_id uuid, p_because text)
 RETURNS void
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_step jobsvc_workflow_steps%ROWTYPE;
    v_child record;
BEGIN
    SELECT * INTO v_step FROM jobsvc_workflow_steps WHERE job_id = p_job_id;
    -- Step rows first, then job rows, each in id order (the readiness trigger's order).
    PERFORM 1 FROM jobsvc_workflow_steps WHERE job_id = ANY(v_step.child_ids) ORDER BY job_id FOR UPDATE;
    FOR v_child IN
        SELECT j.id FROM jobsvc_jobs j
        WHERE j.id = ANY(v_step.child_ids) AND j.state = 'cancelled'
          AND EXISTS (  -- cancelled by the failure policy, because of a parent
              SELECT 1 FROM jobsvc_workflow_steps p
              WHERE p.workflow_id = v_step.workflow_id AND j.id = ANY(p.child_ids)
                AND j.cancel_reason IN (format('step %s failed', p.name), format('step %s cancelled', p.name)))
          AND NOT EXISTS (
              SELECT 1 FROM jobsvc_workflow_steps p JOIN jobsvc_jobs pj ON pj.id = p.job_id
              WHERE p.workflow_id = v_step.workflow_id AND j.id = ANY(p.child_ids) AND p.job_id <> p_job_id
                AND NOT p.optional AND pj.state IN ('failed', 'cancelled'))
        ORDER BY j.id
        FOR UPDATE OF j
    LOOP
        WITH revived AS (
            UPDATE jobsvc_jobs SET state = 'waiting', finished_at = NULL, cancel_reason = NULL,
                cancel_requested = false, last_seq = last_seq + 1
            WHERE id = v_child.id
            RETURNING id, last_seq
        )
        INSERT INTO jobsvc_job_events (job_id, seq, kind, data)
        SELECT id, last_seq, 'requeued', jsonb_build_object('reason', p_because) FROM revived;
        PERFORM jobsvc_workflow_step_revive(v_child.id, p_because);
    END LOOP;
END;
$function$;

-- Succeeds a step that ran no handler of its own (a mapped step: the list of its
-- elements' results), with its succeeded event.
CREATE FUNCTION jobsvc_workflow_step_succeed(p_job_id uuid, p_result jsonb)
 RETURNS void
 LANGUAGE plpgsql
AS $function$
BEGIN
    WITH done AS (
        UPDATE jobsvc_jobs SET
            state = 'succeeded', result = p_result, finished_at = now(), last_seq = last_seq + 1
        WHERE id = p_job_id
        RETURNING id, last_seq
    )
    INSERT INTO jobsvc_job_events (job_id, seq, kind, data, payload)
    SELECT id, last_seq, 'succeeded', jsonb_build_object('attempt', 0), p_result FROM done;
    PERFORM pg_notify('jobsvc_events', p_job_id::text);
END;
$function$;

-- A child reached a terminal state. The WHEN clause reads only the row: plain jobs run no
-- trigger.
CREATE TRIGGER jobsvc_jobs_child_finished
    AFTER UPDATE OF state ON jobsvc_jobs
    FOR EACH ROW
    WHEN (new.parent_id IS NOT NULL AND (old.state = ANY (ARRAY['waiting'::text, 'queued'::text, 'running'::text])) AND (new.state = ANY (ARRAY['succeeded'::text, 'failed'::text, 'cancelled'::text])))
    EXECUTE FUNCTION jobsvc_child_finished();

-- Applies, once per statement, the slot changes jobsvc_jobs_concurrency_count noted for
-- its rows (after them: a statement's AFTER events fire in the order queued).
CREATE TRIGGER jobsvc_jobs_concurrency_apply
    AFTER UPDATE OF state ON jobsvc_jobs
    FOR EACH STATEMENT
    EXECUTE FUNCTION jobsvc_concurrency_apply();

-- Keeps jobsvc_concurrency exact (with jobsvc_jobs_concurrency_apply): fires only when
-- a job with a concurrency key enters or leaves RUNNING.
CREATE TRIGGER jobsvc_jobs_concurrency_count
    AFTER UPDATE OF state ON jobsvc_jobs
    FOR EACH ROW
    WHEN (old.concurrency_key IS NOT NULL AND (old.state = 'running'::text) <> (new.state = 'running'::text))
    EXECUTE FUNCTION jobsvc_concurrency_count();

-- A job with children was cancelled: cancel theirs too.
CREATE TRIGGER jobsvc_jobs_parent_cancelled
    AFTER UPDATE OF state ON jobsvc_jobs
    FOR EACH ROW
    WHEN (new.has_children AND new.state = 'cancelled'::text AND old.state <> 'cancelled'::text)
    EXECUTE FUNCTION jobsvc_parent_cancelled();

-- A workflow step reached a terminal state: count it off its dependants. The WHEN clause
-- is false for plain jobs, so no trigger runs for them.
CREATE TRIGGER jobsvc_jobs_workflow_step
    AFTER UPDATE OF state ON jobsvc_jobs
    FOR EACH ROW
    WHEN (new.workflow_id IS NOT NULL AND (old.state = ANY (ARRAY['waiting'::text, 'queued'::text, 'running'::text])) AND (new.state = ANY (ARRAY['succeeded'::text, 'failed'::text, 'cancelled'::text])))
    EXECUTE FUNCTION jobsvc_workflow_step_finished();

-- A step's job was deleted (retention): delete its step row too.
CREATE TRIGGER jobsvc_jobs_workflow_step_reaped
    AFTER DELETE ON jobsvc_jobs
    FOR EACH ROW
    WHEN (old.workflow_id IS NOT NULL)
    EXECUTE FUNCTION jobsvc_workflow_step_reaped();
