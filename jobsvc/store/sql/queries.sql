-- Every SQL statement jobsvc runs, one named block each ("-- name: noun_verb").
-- Loaded once by jobsvc/store/sql.py; PgStore runs exactly one block per method.
-- Job columns are always selected in the order of the `job_columns` fragment in
-- sql.py so that rows convert in one place.

-- name: migration_lock
-- One migrator at a time across replicas; released with the transaction.
SELECT pg_advisory_xact_lock(7283741501);

-- name: migration_table_create
CREATE TABLE IF NOT EXISTS jobsvc_schema_migrations (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- name: migration_list_applied
SELECT version FROM jobsvc_schema_migrations ORDER BY version;

-- name: migration_record
INSERT INTO jobsvc_schema_migrations (version, name) VALUES ($1, $2);

-- name: database_ping
SELECT 1;

-- name: handler_upsert_many
INSERT INTO jobsvc_handlers AS h
    (name, version, description, input_schema, output_schema, input_type, output_type, last_seen_at)
-- JSON arrives as text[] (cast per element): a jsonb[] parameter would make the
-- driver read a dict or list element as a nested array.
SELECT name, version, description, input_schema::jsonb, output_schema::jsonb, input_type, output_type, now()
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
    AS t(name, version, description, input_schema, output_schema, input_type, output_type)
ON CONFLICT (name, version) DO UPDATE SET
    description   = excluded.description,
    input_schema  = excluded.input_schema,
    output_schema = excluded.output_schema,
    input_type    = excluded.input_type,
    output_type   = excluded.output_type,
    last_seen_at  = now();

-- name: handler_touch_many
UPDATE jobsvc_handlers SET last_seen_at = now()
WHERE (name, version) IN (SELECT * FROM unnest($1::text[], $2::text[]));

-- name: handler_list
-- $1: name or NULL for all; $2: seconds since last_seen_at that still count as online.
SELECT name, version, description, input_schema, output_schema, input_type, output_type,
       last_seen_at > now() - make_interval(secs => $2) AS online
FROM jobsvc_handlers
WHERE $1::text IS NULL OR name = $1
ORDER BY name;

-- name: job_insert_many
-- Inserts a batch and the first event ("queued", seq 1) of each new job in one
-- statement. A job whose idempotency key is taken is skipped (not an error):
-- the caller fetches the existing job by key and compares.
WITH new AS (
    SELECT * FROM unnest(
        $1::uuid[], $2::text[], $3::text[], $4::text[], $5::integer[], $6::text[], $7::text[],
        $8::bytea[], $9::text[], $10::text[], $11::timestamptz[]
    ) AS t(id, handler, version_selector, version, priority, input, input_type_url,
           input_data, idempotency_key, labels, run_at)
), inserted AS (
    INSERT INTO jobsvc_jobs
        (id, handler, version_selector, version, state, priority, input, input_type_url,
         input_data, idempotency_key, labels, run_at, last_seq)
    -- input and labels arrive as JSON text, for the reason given at handler_upsert_many.
    SELECT id, handler, version_selector, version, 'queued', priority, input::jsonb, input_type_url,
           input_data, idempotency_key, labels::jsonb, coalesce(run_at, now()), 1
    FROM new
    ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING {job_columns}
), queued_event AS (
    INSERT INTO jobsvc_job_events (job_id, seq, kind, time, data)
    SELECT id, 1, 'queued', created_at, jsonb_build_object('handler', handler, 'version', version)
    FROM inserted
)
SELECT {job_columns} FROM inserted;

-- name: job_get
SELECT {job_columns} FROM jobsvc_jobs WHERE id = $1;

-- name: job_get_by_idempotency_keys
SELECT {job_columns} FROM jobsvc_jobs WHERE idempotency_key = ANY($1::text[]);

-- name: job_list
-- Newest first, keyset-paginated on (created_at, id). $1 states (NULL: any),
-- $2 handler (NULL: any), $3/$4 the cursor (NULL: first page), $5 page size + 1.
SELECT {job_columns} FROM jobsvc_jobs
WHERE ($1::text[] IS NULL OR state = ANY($1))
  AND ($2::text IS NULL OR handler = $2)
  AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4::uuid))
ORDER BY created_at DESC, id DESC
LIMIT $5;

-- name: job_claim
-- Leases up to $2 due jobs of the (handler, version) pairs this executor serves
-- ($1: 'name@version' keys) to owner $3 for $4 seconds, and logs "started".
WITH next AS MATERIALIZED (
    -- MATERIALIZED keeps the planner from re-running the SKIP LOCKED scan inside
    -- the UPDATE (which, inlined, can claim rows it did not lock first).
    SELECT id FROM jobsvc_jobs
    WHERE state = 'queued' AND run_at <= now()
      AND handler || '@' || version = ANY($1::text[])
    ORDER BY priority DESC, run_at, id
    LIMIT $2
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE jobsvc_jobs j SET
        state = 'running',
        attempt = j.attempt + 1,
        attempt_token = gen_random_uuid(),
        lease_owner = $3,
        lease_expires_at = now() + make_interval(secs => $4),
        started_at = now(),
        last_seq = j.last_seq + 1
    FROM next WHERE j.id = next.id
    RETURNING {job_columns_j}, j.attempt_token
), started_event AS (
    INSERT INTO jobsvc_job_events (job_id, seq, kind, data)
    SELECT id, last_seq, 'started', jsonb_build_object('attempt', attempt, 'executor', $3::text)
    FROM claimed
)
SELECT claimed.*, pg_notify('jobsvc_events', claimed.id::text) FROM claimed;

-- name: job_lease_extend
-- Heartbeat for every job an owner holds; returns the ids still held (a job that
-- was rescued elsewhere is missing, so the owner learns its lease is gone).
UPDATE jobsvc_jobs SET lease_expires_at = now() + make_interval(secs => $3)
WHERE id = ANY($1::uuid[]) AND lease_owner = $2 AND state = 'running'
RETURNING id, cancel_requested;

-- name: job_event_append
-- Appends a non-terminal event to a running job if $2 is its current attempt
-- token; progress events also update the job's latest progress.
WITH bumped AS (
    UPDATE jobsvc_jobs SET
        last_seq = last_seq + 1,
        progress_percent = CASE WHEN $3 = 'progress' THEN ($4::jsonb ->> 'percent')::double precision
                                ELSE progress_percent END,
        progress_message = CASE WHEN $3 = 'progress' THEN $4::jsonb ->> 'message'
                                ELSE progress_message END
    WHERE id = $1 AND attempt_token = $2 AND state = 'running'
    RETURNING id, last_seq
), appended AS (
    INSERT INTO jobsvc_job_events (job_id, seq, kind, data, payload, payload_type_url, payload_data)
    SELECT id, last_seq, $3, $4, $5, $6, $7 FROM bumped
)
SELECT last_seq, pg_notify('jobsvc_events', id::text) FROM bumped;

-- name: job_finish
-- Ends the attempt holding token $2 in terminal state $3 and logs the terminal
-- event. Nothing happens when the token is stale (the job was rescued, cancelled
-- or finished by someone else).
WITH finished AS (
    UPDATE jobsvc_jobs SET
        state = $3,
        result = $4, result_type_url = $5, result_data = $6,
        error = $7,
        finished_at = now(),
        lease_owner = NULL, lease_expires_at = NULL, attempt_token = NULL,
        last_seq = last_seq + 1
    WHERE id = $1 AND attempt_token = $2 AND state = 'running'
    RETURNING id, last_seq, attempt, cancel_reason
), terminal_event AS (
    -- The result rides on the terminal event too, so a stream needs no second read.
    INSERT INTO jobsvc_job_events (job_id, seq, kind, data, payload, payload_type_url, payload_data)
    SELECT id, last_seq, $3,
           CASE $3 WHEN 'failed' THEN jsonb_build_object('error', $7::jsonb)
                   WHEN 'cancelled' THEN jsonb_build_object('reason', coalesce(cancel_reason, ''))
                   ELSE jsonb_build_object('attempt', attempt) END,
           $4, $5, $6
    FROM finished
)
SELECT last_seq, pg_notify('jobsvc_events', id::text) FROM finished;

-- name: job_requeue
-- Returns a running attempt to the queue (executor shutting down): the next
-- attempt may run anywhere. Refused, like every write, for a stale token.
WITH requeued AS (
    UPDATE jobsvc_jobs SET
        state = 'queued', lease_owner = NULL, lease_expires_at = NULL, attempt_token = NULL,
        run_at = now(), last_seq = last_seq + 1
    WHERE id = $1 AND attempt_token = $2 AND state = 'running'
    RETURNING id, last_seq
), requeued_event AS (
    INSERT INTO jobsvc_job_events (job_id, seq, kind, data)
    SELECT id, last_seq, 'requeued', jsonb_build_object('reason', $3::text) FROM requeued
)
SELECT last_seq, pg_notify('jobsvc_events', id::text) FROM requeued;

-- name: job_rescue_expired
-- Puts running jobs whose lease ran out (their executor died) back in the queue.
-- SKIP LOCKED lets every replica run this at once: each row is rescued by one.
WITH expired AS MATERIALIZED (
    SELECT id FROM jobsvc_jobs
    WHERE state = 'running' AND lease_expires_at < now()
    ORDER BY lease_expires_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
), rescued AS (
    UPDATE jobsvc_jobs j SET
        state = 'queued', lease_owner = NULL, lease_expires_at = NULL, attempt_token = NULL,
        run_at = now(), last_seq = j.last_seq + 1
    FROM expired WHERE j.id = expired.id
    RETURNING j.id, j.last_seq
), requeued_event AS (
    INSERT INTO jobsvc_job_events (job_id, seq, kind, data)
    SELECT id, last_seq, 'requeued', '{"reason": "lease expired"}'::jsonb FROM rescued
)
SELECT id, pg_notify('jobsvc_events', id::text) FROM rescued;

-- name: job_cancel_queued
-- Cancels a job that has not started; the row lock makes this race-free against a claim.
WITH cancelled AS (
    UPDATE jobsvc_jobs SET
        state = 'cancelled', finished_at = now(), cancel_reason = $2, last_seq = last_seq + 1
    WHERE id = $1 AND state = 'queued'
    RETURNING id, last_seq
), cancelled_event AS (
    INSERT INTO jobsvc_job_events (job_id, seq, kind, data)
    SELECT id, last_seq, 'cancelled', jsonb_build_object('reason', $2::text) FROM cancelled
)
SELECT id, pg_notify('jobsvc_events', id::text) FROM cancelled;

-- name: job_cancel_running
-- Asks the executor of a running job to stop it; the executor writes the
-- terminal event when the handler has stopped.
UPDATE jobsvc_jobs SET cancel_requested = true, cancel_reason = $2
WHERE id = $1 AND state = 'running'
RETURNING id, pg_notify('jobsvc_cancel', id::text);

-- name: job_event_list
SELECT job_id, seq, kind, time, data, payload, payload_type_url, payload_data
FROM jobsvc_job_events
WHERE job_id = $1 AND seq > $2
ORDER BY seq
LIMIT $3;

-- name: job_executors_wake
SELECT pg_notify('jobsvc_jobs', '');
