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

-- name: plan_claims_for_transaction
-- The planner settings of a claim (see create_pool(for_claims=True)), for one transaction.
SET LOCAL plan_cache_mode = force_custom_plan; SET LOCAL enable_seqscan = off;
SET LOCAL enable_bitmapscan = off;

-- name: database_ping
SELECT 1;

-- name: handler_upsert_many
INSERT INTO jobsvc_handlers AS h
    (name, version, description, input_schema, output_schema, input_type, output_type, last_seen_at,
     retry_policy, attempt_timeout, cache_ttl, retention, flow_control)
-- JSON arrives as text[] (cast per element): a jsonb[] parameter would make the
-- driver read a dict or list element as a nested array.
SELECT name, version, description, input_schema::jsonb, output_schema::jsonb, input_type, output_type, now(),
       retry_policy::jsonb, attempt_timeout, cache_ttl, retention, flow_control::jsonb
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
            $9::double precision[], $10::double precision[], $11::double precision[], $12::text[])
    AS t(name, version, description, input_schema, output_schema, input_type, output_type, retry_policy,
         attempt_timeout, cache_ttl, retention, flow_control)
ON CONFLICT (name, version) DO UPDATE SET
    description   = excluded.description,
    input_schema  = excluded.input_schema,
    output_schema = excluded.output_schema,
    input_type    = excluded.input_type,
    output_type   = excluded.output_type,
    retry_policy  = excluded.retry_policy,
    attempt_timeout = excluded.attempt_timeout,
    cache_ttl     = excluded.cache_ttl,
    retention     = excluded.retention,
    flow_control  = excluded.flow_control,
    last_seen_at  = now();

-- name: handler_touch_many
UPDATE jobsvc_handlers SET last_seen_at = now()
WHERE (name, version) IN (SELECT * FROM unnest($1::text[], $2::text[]));

-- name: handler_list
-- $1: name or NULL for all; $2: seconds since last_seen_at that still count as online.
SELECT name, version, description, input_schema, output_schema, input_type, output_type,
       retry_policy, attempt_timeout, cache_ttl, retention, flow_control,
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
        $8::bytea[], $9::text[], $10::text[], $11::timestamptz[], $12::text[]
    ) WITH ORDINALITY AS t(id, handler, version_selector, version, priority, input, input_type_url,
           input_data, idempotency_key, labels, run_at, options, ord)
), prepared AS (
    -- options: the effective retry policy, timeouts, retention, input hash and flow
    -- control keys, as JSON.
    SELECT new.*, options::jsonb AS o, coalesce(run_at, now()) AS due, options::jsonb ->> 'fairness_key' AS fair_key
    FROM new
), fair_demand AS (
    SELECT fair_key, count(*) AS n, max((o ->> 'fairness_spacing')::double precision) AS spacing
    FROM prepared WHERE fair_key IS NOT NULL GROUP BY fair_key
), fair AS (
    -- Advance each key's virtual clock by `spacing` per job; the batch's jobs of a key
    -- take the slots from the clock's old value (or now, if it lags) onwards.
    INSERT INTO jobsvc_fair_clocks AS f (key, next_at)
    SELECT fair_key, now() + make_interval(secs => n * spacing) FROM fair_demand ORDER BY fair_key
    ON CONFLICT (key) DO UPDATE SET next_at = greatest(f.next_at, now()) + (excluded.next_at - now())
    RETURNING f.key, f.next_at
), ordered AS (
    SELECT p.*, CASE WHEN p.fair_key IS NULL THEN p.due ELSE greatest(p.due,
               fair.next_at - make_interval(secs => d.spacing * (d.n - row_number() OVER (
                   PARTITION BY p.fair_key ORDER BY p.ord) + 1)))
           END AS order_at
    FROM prepared p
    LEFT JOIN fair ON fair.key = p.fair_key
    LEFT JOIN fair_demand d ON d.fair_key = p.fair_key
), inserted AS (
    INSERT INTO jobsvc_jobs
        (id, handler, version_selector, version, state, priority, input, input_type_url,
         input_data, idempotency_key, labels, run_at, order_at, last_seq, max_attempts, retry_initial_interval,
         retry_backoff_coefficient, retry_maximum_interval, non_retryable_error_types, attempt_timeout,
         deadline_at, start_deadline_at, retention, input_hash, concurrency_key, concurrency_limit,
         rate_key, rate_limit, rate_period, fairness_key, trace_context)
    -- input and labels arrive as JSON text, for the reason given at handler_upsert_many.
    SELECT id, handler, version_selector, version, 'queued', priority, input::jsonb, input_type_url,
           input_data, idempotency_key, labels::jsonb, due, order_at, 1,
           (o ->> 'max_attempts')::integer, (o ->> 'initial_interval')::double precision,
           (o ->> 'backoff_coefficient')::double precision, (o ->> 'maximum_interval')::double precision,
           ARRAY(SELECT jsonb_array_elements_text(o -> 'non_retryable_error_types')),
           (o ->> 'attempt_timeout')::double precision,
           now() + make_interval(secs => (o ->> 'execution_timeout')::double precision),
           due + make_interval(secs => (o ->> 'schedule_to_start_timeout')::double precision),
           (o ->> 'retention')::double precision, o ->> 'input_hash',
           o ->> 'concurrency_key', (o ->> 'concurrency_limit')::integer,
           o ->> 'rate_key', (o ->> 'rate_limit')::integer, (o ->> 'rate_period')::double precision, fair_key,
           nullif(o -> 'trace_context', 'null'::jsonb)
    FROM ordered
    ORDER BY ord
    ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING id, handler, version, created_at, run_at
), queued_event AS (
    INSERT INTO jobsvc_job_events (job_id, seq, kind, time, data)
    SELECT id, 1, 'queued', created_at, jsonb_build_object('handler', handler, 'version', version)
    FROM inserted
)
-- Only what the database decided: the caller has the rest (see rows.new_job).
SELECT id, created_at, run_at FROM inserted;

-- name: job_get
SELECT {job_columns}, {waiting_reason} FROM jobsvc_jobs WHERE id = $1;

-- name: job_get_basic
-- job_get without the payloads (the BASIC view).
SELECT {job_columns_basic}, {waiting_reason} FROM jobsvc_jobs WHERE id = $1;

-- name: job_get_by_idempotency_keys
SELECT {job_columns} FROM jobsvc_jobs WHERE idempotency_key = ANY($1::text[]);

-- name: job_list
-- Newest first, keyset-paginated on (created_at, id). $1 states (NULL: any),
-- $2 handler (NULL: any), $3/$4 the cursor (NULL: first page), $5 page size + 1.
SELECT {job_columns}, {waiting_reason} FROM jobsvc_jobs
WHERE ($1::text[] IS NULL OR state = ANY($1))
  AND ($2::text IS NULL OR handler = $2)
  AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4::uuid))
ORDER BY created_at DESC, id DESC
LIMIT $5;

-- name: job_list_basic
-- job_list without the payloads (the BASIC view).
SELECT {job_columns_basic}, {waiting_reason} FROM jobsvc_jobs
WHERE ($1::text[] IS NULL OR state = ANY($1))
  AND ($2::text IS NULL OR handler = $2)
  AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4::uuid))
ORDER BY created_at DESC, id DESC
LIMIT $5;

-- name: job_claim
-- job_claim_limited for handler versions that have no flow control (most): the same
-- hand-out order and result shape, without the limit bookkeeping.
WITH next AS MATERIALIZED (
    SELECT id FROM jobsvc_jobs
    WHERE state = 'queued' AND run_at <= now()
      AND handler || '@' || version = ANY($1::text[])
    ORDER BY priority DESC, order_at, id
    LIMIT $2
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE jobsvc_jobs j SET
        state = 'running',
        attempt = j.attempt + 1,
        attempt_token = gen_random_uuid(),
        lease_owner = $3,
        attempt_deadline = now() + make_interval(secs => j.attempt_timeout),
        lease_expires_at = least(now() + make_interval(secs => $4),
                                 coalesce(now() + make_interval(secs => j.attempt_timeout), 'infinity')),
        started_at = now(),
        last_seq = j.last_seq + 1
    FROM next WHERE j.id = next.id
    RETURNING {job_columns_j}, j.attempt_token, j.lease_expires_at, j.attempt_deadline
), started_event AS (
    INSERT INTO jobsvc_job_events (job_id, seq, kind, data)
    SELECT id, last_seq, 'started', jsonb_build_object('attempt', attempt, 'executor', $3::text)
    FROM claimed
)
SELECT claimed.*, stats.candidates, NULL::timestamptz AS rate_retry_at
FROM (SELECT (SELECT count(*) FROM next) AS candidates) stats
LEFT JOIN claimed ON true;

-- name: job_claim_limited
-- Leases up to $2 due jobs of the (handler, version) pairs this executor serves
-- ($1: 'name@version' keys) to owner $3 for $4 seconds, and logs "started". Jobs over
-- their concurrency or rate limit stay queued, in order. Always returns at least one
-- row: id is NULL when nothing was claimed; `candidates` says how many due jobs were
-- looked at (all of $2: more may be claimable now), `rate_retry_at` when a full rate
-- window next opens.
WITH next AS MATERIALIZED (
    -- MATERIALIZED keeps the planner from re-running the SKIP LOCKED scan inside
    -- the UPDATE (which, inlined, can claim rows it did not lock first).
    SELECT id, priority, order_at, concurrency_key, concurrency_limit, rate_key, rate_limit, rate_period
    FROM jobsvc_jobs j
    WHERE state = 'queued' AND run_at <= now()
      AND handler || '@' || version = ANY($1::text[])
      -- Keys known to be at their limit are passed over (a stale read is fine: the locked
      -- counts below decide), so their jobs do not crowd out others in this batch.
      AND (concurrency_key IS NULL OR NOT EXISTS (
          SELECT 1 FROM jobsvc_concurrency c WHERE c.key = j.concurrency_key AND c.running >= j.concurrency_limit))
      AND (rate_key IS NULL OR NOT EXISTS (
          SELECT 1 FROM jobsvc_rate_windows w WHERE w.key = j.rate_key AND w.blocked_until > clock_timestamp()))
    ORDER BY priority DESC, order_at, id
    LIMIT $2
    FOR UPDATE SKIP LOCKED
), slots AS MATERIALIZED (
    -- Locked in key order, so claims on several replicas never deadlock.
    SELECT k.key, jobsvc_concurrency_lock(k.key) AS running
    FROM (SELECT DISTINCT concurrency_key AS key FROM next WHERE concurrency_key IS NOT NULL ORDER BY 1) k
), fits AS MATERIALIZED (
    SELECT n.id, n.priority, n.order_at, n.rate_key, n.rate_limit, n.rate_period FROM (
        SELECT n.*, row_number() OVER (PARTITION BY n.concurrency_key ORDER BY n.priority DESC, n.order_at, n.id) AS nth
        FROM next n
    ) n
    LEFT JOIN slots s ON s.key = n.concurrency_key
    WHERE n.concurrency_key IS NULL OR n.nth <= n.concurrency_limit - s.running
), rates AS MATERIALIZED (
    SELECT d.key, r.granted, r.granted_at
    FROM (SELECT rate_key AS key, max(rate_limit) AS capacity, max(rate_period) AS period, count(*)::integer AS n
          FROM fits WHERE rate_key IS NOT NULL GROUP BY rate_key ORDER BY rate_key) d,
         LATERAL jobsvc_rate_take(d.key, d.capacity, d.period, d.n) r
), chosen AS (
    SELECT f.id, r.granted_at FROM (
        SELECT f.*, row_number() OVER (PARTITION BY f.rate_key ORDER BY f.priority DESC, f.order_at, f.id) AS nth
        FROM fits f
    ) f
    LEFT JOIN rates r ON r.key = f.rate_key
    WHERE f.rate_key IS NULL OR f.nth <= r.granted
), claimed AS (
    UPDATE jobsvc_jobs j SET
        state = 'running',
        attempt = j.attempt + 1,
        attempt_token = gen_random_uuid(),
        lease_owner = $3,
        attempt_deadline = now() + make_interval(secs => j.attempt_timeout),
        -- The lease never outlives the attempt's deadline: the rescuer ends a hung attempt.
        lease_expires_at = least(now() + make_interval(secs => $4),
                                 coalesce(now() + make_interval(secs => j.attempt_timeout), 'infinity')),
        -- A rate-limited job starts at its grant, so windows over started_at are exact.
        started_at = coalesce(chosen.granted_at, now()),
        last_seq = j.last_seq + 1
    FROM chosen WHERE j.id = chosen.id
    RETURNING {job_columns_j}, j.attempt_token, j.lease_expires_at, j.attempt_deadline
), started_event AS (
    INSERT INTO jobsvc_job_events (job_id, seq, kind, data)
    SELECT id, last_seq, 'started', jsonb_build_object('attempt', attempt, 'executor', $3::text)
    FROM claimed
)
SELECT claimed.*, stats.candidates, stats.rate_retry_at
FROM (SELECT (SELECT count(*) FROM next) AS candidates,
             (SELECT min(blocked_until) FROM jobsvc_rate_windows WHERE blocked_until > now()) AS rate_retry_at) stats
LEFT JOIN claimed ON true;

-- name: job_lease_extend
-- Heartbeat for every job an owner holds; returns the ids still held (a job that
-- was rescued elsewhere is missing, so the owner learns its lease is gone).
-- Rows are locked in id order, as every multi-row write of running jobs does: two
-- such statements locking shared rows in different orders would deadlock.
WITH held AS MATERIALIZED (
    SELECT id FROM jobsvc_jobs
    WHERE id = ANY($1::uuid[]) AND lease_owner = $2 AND state = 'running'
    ORDER BY id
    FOR UPDATE
)
UPDATE jobsvc_jobs j SET
    lease_expires_at = least(now() + make_interval(secs => $3), coalesce(j.attempt_deadline, 'infinity'))
FROM held
WHERE j.id = held.id
RETURNING j.id, j.cancel_requested;

-- name: job_lease_extend_tokens
-- Heartbeat of a remote worker, by (job, attempt token): returns the leases still held.
-- Rows locked in id order (see job_lease_extend).
WITH held AS MATERIALIZED (
    SELECT j.id FROM jobsvc_jobs j
    JOIN unnest($1::uuid[], $2::uuid[]) AS ref(id, token) ON j.id = ref.id AND j.attempt_token = ref.token
    WHERE j.state = 'running'
    ORDER BY j.id
    FOR UPDATE OF j
)
UPDATE jobsvc_jobs j SET
    lease_expires_at = least(now() + make_interval(secs => $3), coalesce(j.attempt_deadline, 'infinity'))
FROM held
WHERE j.id = held.id
RETURNING j.id, j.cancel_requested, j.lease_expires_at;

-- name: job_lease_shorten
-- A worker's session ended: its leases run out after a short grace unless it comes back.
UPDATE jobsvc_jobs SET lease_expires_at = least(lease_expires_at, now() + make_interval(secs => $2))
WHERE lease_owner = $1 AND state = 'running';

-- name: job_fail_attempt
-- The function's UPDATE is invisible to this statement's snapshot, so the join reads the
-- row as the failed attempt left it: its handler, version, attempt number and start.
SELECT j.id, f.new_state, f.next_run_at, f.event_seq, j.handler, j.version, j.attempt,
       extract(epoch FROM now() - j.started_at)::float8 AS attempt_seconds,
       extract(epoch FROM now() - j.created_at)::float8 AS job_seconds
FROM jobsvc_fail_attempt($1, $2, $3::jsonb, $4, $5) f JOIN jobsvc_jobs j ON j.id = $1;

-- name: job_event_append_many
-- job_event_append for several events of one attempt at once, in order (a handler that
-- reports fast is written in few statements). Returns the job's last sequence number.
WITH input AS (
    SELECT * FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::bytea[]) WITH ORDINALITY
        AS t(kind, data, payload, payload_type_url, payload_data, n)
), latest_progress AS (
    SELECT data::jsonb AS data FROM input WHERE kind = 'progress' ORDER BY n DESC LIMIT 1
), bumped AS (
    UPDATE jobsvc_jobs SET
        last_seq = last_seq + (SELECT count(*) FROM input),
        progress_percent = coalesce((SELECT (data ->> 'percent')::double precision FROM latest_progress),
                                    progress_percent),
        progress_message = CASE WHEN EXISTS (SELECT 1 FROM latest_progress)
                                THEN (SELECT data ->> 'message' FROM latest_progress) ELSE progress_message END
    WHERE id = $1 AND attempt_token = $2 AND state = 'running'
    RETURNING id, last_seq
), appended AS (
    INSERT INTO jobsvc_job_events (job_id, seq, kind, data, payload, payload_type_url, payload_data)
    SELECT b.id, b.last_seq - (SELECT count(*) FROM input) + i.n, i.kind, i.data::jsonb, i.payload::jsonb,
           i.payload_type_url, i.payload_data
    FROM bumped b, input i
)
SELECT last_seq FROM bumped;

-- name: job_finish_many
-- Ends each attempt holding its token in its terminal state and logs the terminal event,
-- many attempts in one statement (concurrent finishes are coalesced). Nothing happens
-- for a stale token (the job was rescued, cancelled or finished by someone else).
-- The result rides on the terminal event too, so a stream needs no second read.
WITH input AS (
    SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::bytea[], $7::text[])
        AS t(id, token, state, result, result_type_url, result_data, error)
), counters AS MATERIALIZED (
    -- The concurrency counters of these jobs' keys, locked in key order (rows are locked
    -- after the sort) before any job row is touched: the trigger that gives the slots
    -- back would otherwise lock them in row order, and two batches could deadlock.
    SELECT c.key FROM jobsvc_concurrency c
    WHERE c.key IN (SELECT concurrency_key FROM jobsvc_jobs WHERE id = ANY($1::uuid[]) AND concurrency_key IS NOT NULL)
    ORDER BY c.key
    FOR UPDATE OF c
), rows_locked AS MATERIALIZED (
    -- Then the job rows, in id order (see job_lease_extend).
    -- (the uncorrelated subquery is a one-time filter: the counters are locked first)
    SELECT j.id FROM jobsvc_jobs j
    WHERE (SELECT count(*) FROM counters) >= 0 AND j.id = ANY($1::uuid[]) AND j.state = 'running'
    ORDER BY j.id
    FOR UPDATE OF j
), locked AS MATERIALIZED (
    SELECT count(*) AS n FROM rows_locked
), finished AS (
    UPDATE jobsvc_jobs j SET
        state = i.state,
        result = i.result::jsonb, result_type_url = i.result_type_url, result_data = i.result_data,
        error = i.error::jsonb,
        finished_at = now(),
        lease_owner = NULL, lease_expires_at = NULL, attempt_token = NULL,
        last_seq = j.last_seq + 1
    FROM input i, locked
    WHERE j.id = i.id AND j.attempt_token = i.token AND j.state = 'running'
    RETURNING j.id, j.last_seq, j.attempt, j.cancel_reason, j.handler, j.version,
              extract(epoch FROM now() - j.started_at)::float8 AS attempt_seconds,
              extract(epoch FROM now() - j.created_at)::float8 AS job_seconds, i.state, i.result, i.result_type_url, i.result_data,
              i.error
), terminal_event AS (
    INSERT INTO jobsvc_job_events (job_id, seq, kind, data, payload, payload_type_url, payload_data)
    SELECT id, last_seq, state,
           CASE state WHEN 'failed' THEN jsonb_build_object('error', error::jsonb)
                      WHEN 'cancelled' THEN jsonb_build_object('reason', coalesce(cancel_reason, ''))
                      ELSE jsonb_build_object('attempt', attempt) END,
           result::jsonb, result_type_url, result_data
    FROM finished
)
SELECT id, last_seq, handler, version, attempt, attempt_seconds, job_seconds FROM finished;

-- name: job_requeue
-- Returns a running attempt to the queue (executor shutting down): the next
-- attempt may run anywhere. Refused, like every write, for a stale token.
WITH requeued AS (
    UPDATE jobsvc_jobs SET
        -- Not a failed attempt: the next claim reuses the attempt number.
        state = 'queued', lease_owner = NULL, lease_expires_at = NULL, attempt_token = NULL,
        attempt_deadline = NULL, attempt = attempt - 1, run_at = now(), order_at = greatest(order_at, now()),
        last_seq = last_seq + 1
    WHERE id = $1 AND attempt_token = $2 AND state = 'running'
    RETURNING id, last_seq
), requeued_event AS (
    INSERT INTO jobsvc_job_events (job_id, seq, kind, data)
    SELECT id, last_seq, 'requeued', jsonb_build_object('reason', $3::text) FROM requeued
)
SELECT last_seq FROM requeued;

-- name: job_rescue_expired
-- Ends attempts whose lease ran out (their executor or worker died, or the attempt
-- hit its timeout) as failed attempts, so a job that kills its worker every time
-- still ends after max_attempts. SKIP LOCKED lets every replica run this at once:
-- each lease is rescued by exactly one.
WITH expired AS MATERIALIZED (
    SELECT id, attempt_token, attempt_deadline, handler, version, attempt, started_at, created_at
    FROM jobsvc_jobs
    WHERE state = 'running' AND lease_expires_at < now()
    ORDER BY lease_expires_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
SELECT e.id, f.new_state, f.next_run_at, e.handler, e.version, e.attempt,
       extract(epoch FROM now() - e.started_at)::float8 AS attempt_seconds,
       extract(epoch FROM now() - e.created_at)::float8 AS job_seconds
FROM expired e, LATERAL jobsvc_fail_attempt(e.id, e.attempt_token,
    CASE WHEN e.attempt_deadline <= now()
         THEN '{"type": "jobsvc.AttemptTimeout", "message": "the attempt ran past its timeout"}'
         ELSE '{"type": "jobsvc.LeaseExpired", "message": "the executor or worker stopped renewing its lease"}'
    END::jsonb, NULL, false) f;

-- name: job_expire_deadlines
-- Fails jobs past their execution deadline, and queued jobs past their
-- schedule-to-start deadline; running ones are also told to stop.
WITH expired AS MATERIALIZED (
    SELECT id, state AS old_state,
           CASE WHEN deadline_at < now() THEN 'jobsvc.DeadlineExceeded'
                ELSE 'jobsvc.ScheduleToStartTimeout' END AS error_type
    FROM jobsvc_jobs
    WHERE (state IN ('queued', 'running') AND deadline_at < now())
       OR (state = 'queued' AND start_deadline_at < now())
    LIMIT $1
    FOR UPDATE SKIP LOCKED
), failed AS (
    UPDATE jobsvc_jobs j SET
        state = 'failed', finished_at = now(),
        error = jsonb_build_object('type', e.error_type, 'attempt', j.attempt, 'message',
            CASE e.error_type WHEN 'jobsvc.DeadlineExceeded' THEN 'the job did not finish before its deadline'
                 ELSE 'no executor or worker started the job in time' END),
        attempt_token = NULL, lease_owner = NULL, lease_expires_at = NULL, attempt_deadline = NULL,
        last_seq = j.last_seq + 1
    FROM expired e WHERE j.id = e.id
    RETURNING j.id, j.last_seq, j.error, e.old_state, j.handler, j.version, j.attempt,
              extract(epoch FROM now() - j.created_at)::float8 AS job_seconds
), failed_event AS (
    INSERT INTO jobsvc_job_events (job_id, seq, kind, data)
    SELECT id, last_seq, 'failed', jsonb_build_object('error', error) FROM failed
)
SELECT id, handler, version, attempt, job_seconds,
       CASE WHEN old_state = 'running' THEN pg_notify('jobsvc_cancel', id::text) END
FROM failed;

-- name: job_reap_finished
-- Deletes finished jobs past their retention, and their events.
WITH reaped AS (
    DELETE FROM jobsvc_jobs WHERE id IN (
        SELECT id FROM jobsvc_jobs
        WHERE finished_at < now() - make_interval(secs => retention)
        LIMIT $1
    )
    RETURNING id
), events AS (
    DELETE FROM jobsvc_job_events WHERE job_id IN (SELECT id FROM reaped)
)
SELECT id FROM reaped;

-- name: job_redrive_many
-- Re-runs dead-lettered jobs (FAILED, not redriven before) as new jobs with the
-- same spec and a fresh attempt budget: the originals stay FAILED, so a terminal
-- state stays final. $1 ids (NULL: by handler), $2 handler, $3 version (NULL: any).
WITH dead AS MATERIALIZED (
    SELECT id FROM jobsvc_jobs
    WHERE state = 'failed' AND NOT redriven
      AND (($1::uuid[] IS NOT NULL AND id = ANY($1)) OR ($1 IS NULL AND handler = $2))
      AND ($3::text IS NULL OR version = $3)
    ORDER BY finished_at
    LIMIT $4
    FOR UPDATE SKIP LOCKED
), marked AS (
    UPDATE jobsvc_jobs j SET redriven = true FROM dead WHERE j.id = dead.id
    RETURNING j.*
), inserted AS (
    INSERT INTO jobsvc_jobs
        (id, handler, version_selector, version, state, priority, input, input_type_url, input_data,
         labels, last_seq, max_attempts, retry_initial_interval, retry_backoff_coefficient,
         retry_maximum_interval, non_retryable_error_types, attempt_timeout, retention, input_hash,
         redrive_of, concurrency_key, concurrency_limit, rate_key, rate_limit, rate_period, fairness_key)
    SELECT gen_random_uuid(), handler, version_selector, version, 'queued', priority, input,
           input_type_url, input_data, labels, 1, max_attempts, retry_initial_interval,
           retry_backoff_coefficient, retry_maximum_interval, non_retryable_error_types,
           attempt_timeout, retention, input_hash, id, concurrency_key, concurrency_limit,
           rate_key, rate_limit, rate_period, fairness_key
    FROM marked
    RETURNING {job_columns}
), queued_event AS (
    INSERT INTO jobsvc_job_events (job_id, seq, kind, data)
    SELECT id, 1, 'queued', jsonb_build_object('handler', handler, 'version', version, 'redrive_of', redrive_of)
    FROM inserted
)
SELECT {job_columns} FROM inserted;

-- name: job_find_cached
-- The newest succeeded job with the same handler version and input within $4 seconds.
SELECT id FROM jobsvc_jobs
WHERE state = 'succeeded' AND handler = $1 AND version = $2 AND input_hash = $3
  AND finished_at > now() - make_interval(secs => $4)
ORDER BY finished_at DESC
LIMIT 1;

-- name: job_insert_cached
-- A new job answered from cached job $2's result without running: born SUCCEEDED.
WITH source AS (
    SELECT * FROM jobsvc_jobs WHERE id = $2 AND state = 'succeeded'
), inserted AS (
    INSERT INTO jobsvc_jobs
        (id, handler, version_selector, version, state, priority, input, input_type_url, input_data,
         result, result_type_url, result_data, idempotency_key, labels, last_seq, attempt,
         started_at, finished_at, retention, input_hash, cached_from)
    SELECT $1, handler, $3, version, 'succeeded', $4, input, input_type_url, input_data,
           result, result_type_url, result_data, $5, $6::jsonb, 2, 0, now(), now(), retention,
           input_hash, id
    FROM source
    RETURNING {job_columns}
), events AS (
    INSERT INTO jobsvc_job_events (job_id, seq, kind, data, payload, payload_type_url, payload_data)
    SELECT id, 1, 'queued', jsonb_build_object('handler', handler, 'version', version), NULL, NULL, NULL
    FROM inserted
    UNION ALL
    SELECT id, 2, 'succeeded', jsonb_build_object('attempt', 0, 'cached_from', cached_from),
           result, result_type_url, result_data
    FROM inserted
)
SELECT {job_columns} FROM inserted;

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
SELECT id FROM cancelled;

-- name: job_cancel_running
-- Asks the executor of a running job to stop it; the executor writes the
-- terminal event when the handler has stopped. Asking again keeps the first
-- reason, as cancelling a cancelled job does (the repeated NOTIFY is harmless).
UPDATE jobsvc_jobs SET cancel_requested = true,
    cancel_reason = CASE WHEN cancel_requested THEN cancel_reason ELSE $2 END
WHERE id = $1 AND state = 'running'
RETURNING id, pg_notify('jobsvc_cancel', id::text);

-- name: job_event_list
-- Up to $3 events after $2, each row with the job's state and last sequence. One
-- statement is one snapshot, so a reader that sees the job finished has also seen its
-- terminal event: reading the events and then the job could miss one committed between.
-- No row: no such job; one row with a NULL seq: no event after $2.
SELECT j.state AS job_state, j.last_seq AS job_last_seq,
       e.job_id, e.seq, e.kind, e.time, e.data, e.payload, e.payload_type_url, e.payload_data
FROM jobsvc_jobs j
LEFT JOIN LATERAL (
    SELECT * FROM jobsvc_job_events
    WHERE job_id = j.id AND seq > $2
    ORDER BY seq
    LIMIT $3
) e ON true
WHERE j.id = $1
ORDER BY e.seq;

-- name: job_executors_wake
-- $1: epoch second the earliest new job is due, or '' for now.
SELECT pg_notify('jobsvc_jobs', $1);

-- name: job_events_notify
-- One NOTIFY for many changed jobs ($1: comma-separated ids), sent after their commits.
-- A NOTIFY inside each job's own transaction would serialise those commits on
-- PostgreSQL's global notify lock.
SELECT pg_notify('jobsvc_events', $1);

-- name: schedule_insert
-- A new schedule; no row when the name is taken.
INSERT INTO jobsvc_schedules
    (name, handler, version_selector, input, input_type_url, input_data, priority, labels, options,
     cron, interval_seconds, time_zone, missed_ticks, paused, source, next_tick_at)
VALUES ($1, $2, $3, $4::text::jsonb, $5, $6, $7, $8::text::jsonb, $9::text::jsonb, $10, $11, $12, $13, $14, $15, $16)
ON CONFLICT (name) DO NOTHING
RETURNING *;

-- name: schedule_declare
-- A schedule declared in code, by every replica at start: the definition follows the
-- code; its next tick is kept unless the timing changed; paused stays as set by hand.
-- A schedule of the same name created over the API is left alone (no row).
INSERT INTO jobsvc_schedules AS s
    (name, handler, version_selector, input, input_type_url, input_data, priority, labels, options,
     cron, interval_seconds, time_zone, missed_ticks, paused, source, next_tick_at)
VALUES ($1, $2, $3, $4::text::jsonb, $5, $6, $7, $8::text::jsonb, $9::text::jsonb, $10, $11, $12, $13, $14, $15, $16)
ON CONFLICT (name) DO UPDATE SET
    handler = excluded.handler, version_selector = excluded.version_selector, input = excluded.input,
    input_type_url = excluded.input_type_url, input_data = excluded.input_data, priority = excluded.priority,
    labels = excluded.labels, options = excluded.options, cron = excluded.cron,
    interval_seconds = excluded.interval_seconds, time_zone = excluded.time_zone,
    missed_ticks = excluded.missed_ticks,
    next_tick_at = CASE WHEN (s.cron, s.interval_seconds, s.time_zone)
                             IS DISTINCT FROM (excluded.cron, excluded.interval_seconds, excluded.time_zone)
                        THEN excluded.next_tick_at ELSE s.next_tick_at END,
    updated_at = now()
WHERE s.source = 'code'
RETURNING *;

-- name: schedule_get
SELECT * FROM jobsvc_schedules WHERE name = $1;

-- name: schedule_list
SELECT * FROM jobsvc_schedules ORDER BY name;

-- name: schedule_set_paused
-- Pause, or resume from the next tick after now ($3): ticks while paused never run.
UPDATE jobsvc_schedules SET paused = $2, next_tick_at = coalesce($3, next_tick_at), updated_at = now()
WHERE name = $1
RETURNING *;

-- name: schedule_delete
DELETE FROM jobsvc_schedules WHERE name = $1 RETURNING name;

-- name: schedule_due
SELECT * FROM jobsvc_schedules WHERE NOT paused AND next_tick_at <= $1 ORDER BY next_tick_at LIMIT $2;

-- name: schedule_next_tick
SELECT min(next_tick_at) AS next_tick_at FROM jobsvc_schedules WHERE NOT paused;

-- name: schedule_advance
-- Moves a schedule past a tick, only from the tick it was at ($2): of replicas racing on
-- one tick, one moves it and the others change nothing.
UPDATE jobsvc_schedules SET
    next_tick_at = $3, last_tick_at = coalesce($4, last_tick_at), last_job_id = coalesce($5, last_job_id)
WHERE name = $1 AND next_tick_at = $2 AND NOT paused
RETURNING name;

-- name: job_queue_stats
-- Per handler: queued jobs that are due, those scheduled for later (delays, retry
-- backoff), and how long the oldest due one has waited since it became due. Run only
-- when metrics are scraped (and cached briefly), so an idle server sends no extra query.
SELECT handler,
       count(*) FILTER (WHERE run_at <= now()) AS due,
       count(*) FILTER (WHERE run_at > now()) AS scheduled,
       coalesce(extract(epoch FROM now() - min(run_at) FILTER (WHERE run_at <= now())), 0)::float8 AS oldest_due_age
FROM jobsvc_jobs
WHERE state = 'queued'
GROUP BY handler;
