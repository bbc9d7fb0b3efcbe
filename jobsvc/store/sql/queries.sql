-- Every SQL statement jobsvc runs, one named block each ("-- name: noun_verb").
-- Loaded once by jobsvc/store/sql.py; PgStore runs one block per method.
--
-- Each block is complete as written: jobsvc/store/sql.py only turns its named parameters
-- (:job_id) into the $1..$n asyncpg sends, numbered in order of first use; callers pass
-- them by name. Queries that return jobs select the columns rows.job reads (listed there,
-- as JOB_COLUMNS; tests/store checks every such query against it).
--
-- :now, where a query takes it, is the clock it runs by (NULL: the database's now()), so
-- tests can run a query an hour ahead; production always passes NULL.

-- name: migration_lock
-- One migrator at a time across replicas; released with the transaction.
SELECT pg_advisory_xact_lock(7283741501);

-- name: migration_table_create
-- Which migrations have run. Created here rather than by a migration: it is what says
-- which migrations have run (schema.sql shows it too).
CREATE TABLE IF NOT EXISTS jobsvc_schema_migrations (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- name: migration_list_applied
SELECT version FROM jobsvc_schema_migrations ORDER BY version;

-- name: migration_record
INSERT INTO jobsvc_schema_migrations (version, name) VALUES (:version, :name);

-- name: plan_claims_for_transaction
-- The planner settings of a claim (see create_pool(for_claims=True)), for one transaction,
-- and no JIT (see create_pool: compiling a flow-controlled claim cost 20 times the claim).
SET LOCAL plan_cache_mode = force_generic_plan; SET LOCAL enable_seqscan = off;
SET LOCAL enable_bitmapscan = off; SET LOCAL jit = off;

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
FROM unnest(:names::text[], :versions::text[], :descriptions::text[], :input_schemas::text[],
            :output_schemas::text[], :input_types::text[], :output_types::text[], :retry_policies::text[],
            :attempt_timeouts::double precision[], :cache_ttls::double precision[],
            :retentions::double precision[], :flow_controls::text[])
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
WHERE (name, version) IN (SELECT * FROM unnest(:names::text[], :versions::text[]));

-- name: handler_list
-- :name NULL lists every handler; :online_seconds since last_seen_at still count as online.
SELECT name, version, description, input_schema, output_schema, input_type, output_type,
       retry_policy, attempt_timeout, cache_ttl, retention, flow_control,
       last_seen_at > now() - make_interval(secs => :online_seconds) AS online
FROM jobsvc_handlers
WHERE :name::text IS NULL OR name = :name
ORDER BY name;

-- name: job_insert_many
-- Inserts a batch and the first event ("queued", seq 1) of each new job in one
-- statement. Its variant job_insert_many+keyed, for batches with idempotency keys,
-- skips a job whose key is taken (not an error): the caller fetches the existing job by
-- key and compares. Batches without keys leave ON CONFLICT out: it makes every row a
-- speculative insertion (one more WAL record, about 20 us per job) even when no row
-- has a key.
WITH new AS (
    SELECT * FROM unnest(
        :ids::uuid[], :handlers::text[], :version_selectors::text[], :versions::text[], :priorities::integer[],
        :inputs::text[], :input_type_urls::text[], :input_datas::bytea[], :idempotency_keys::text[],
        :labels::text[], :run_ats::timestamptz[], :options::integer[]
    ) WITH ORDINALITY AS t(id, handler, version_selector, version, priority, input, input_type_url,
           input_data, idempotency_key, labels, run_at, options, ord)
), option_sets AS MATERIALIZED (
    -- The batch's distinct sets of options (the effective retry policy, timeouts,
    -- retention, input hash, flow control keys and trace context), as JSON: :options
    -- gives each job's set by its position in :option_sets. A batch's jobs mostly share
    -- one, so it is parsed and read once, not once per job (a JSON parse per row was a
    -- third of the statement's time).
    SELECT n, (o ->> 'max_attempts')::integer AS max_attempts,
           (o ->> 'initial_interval')::double precision AS initial_interval,
           (o ->> 'backoff_coefficient')::double precision AS backoff_coefficient,
           (o ->> 'maximum_interval')::double precision AS maximum_interval,
           ARRAY(SELECT jsonb_array_elements_text(o -> 'non_retryable_error_types')) AS non_retryable_error_types,
           (o ->> 'attempt_timeout')::double precision AS attempt_timeout,
           now() + make_interval(secs => (o ->> 'execution_timeout')::double precision) AS deadline_at,
           make_interval(secs => (o ->> 'schedule_to_start_timeout')::double precision) AS start_within,
           (o ->> 'retention')::double precision AS retention, o ->> 'input_hash' AS input_hash,
           o ->> 'concurrency_key' AS concurrency_key, (o ->> 'concurrency_limit')::integer AS concurrency_limit,
           o ->> 'rate_key' AS rate_key, (o ->> 'rate_limit')::integer AS rate_limit,
           (o ->> 'rate_period')::double precision AS rate_period, o ->> 'fairness_key' AS fair_key,
           (o ->> 'fairness_spacing')::double precision AS fairness_spacing,
           nullif(o -> 'trace_context', 'null'::jsonb) AS trace_context
    FROM unnest(:option_sets::text[]) WITH ORDINALITY AS t(text, n), LATERAL (SELECT text::jsonb AS o) parsed
), prepared AS (
    SELECT new.*, s.*, coalesce(new.run_at, now()) AS due
    FROM new JOIN option_sets s ON s.n = new.options
), fair_demand AS (
    SELECT fair_key, count(*) AS n, max(fairness_spacing) AS spacing
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
           max_attempts, initial_interval, backoff_coefficient, maximum_interval, non_retryable_error_types,
           attempt_timeout, deadline_at, due + start_within, retention, input_hash,
           concurrency_key, concurrency_limit, rate_key, rate_limit, rate_period, fair_key, trace_context
    FROM ordered
    ORDER BY ord
    --+keyed ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING id, handler, version, created_at, run_at
), queued_event AS (
    INSERT INTO jobsvc_job_events (job_id, seq, kind, time, data)
    SELECT id, 1, 'queued', created_at, jsonb_build_object('handler', handler, 'version', version)
    FROM inserted
)
-- Only what the database decided: the caller has the rest (see rows.new_job).
SELECT id, created_at, run_at FROM inserted;

-- name: job_insert_started
-- A Call's one job (no idempotency key, due now, no flow control, not cached) for a free
-- slot of :owner: inserted already running its first attempt, claimed by :owner for
-- :lease_seconds, with its "queued" (seq 1) and "started" (seq 2) events, when no due job
-- of its version waits ahead of it (priority, then due time); otherwise queued, as
-- job_insert_many would insert it. Its commit does not wait for the WAL flush
-- (synchronous_commit off for this transaction): the Call answers only once the job's
-- outcome has committed, durably, which flushes this insert with it; until then nobody
-- has been told the job exists. (JSON arrives as text, for the reason given at
-- handler_upsert_many.) (A statement of its own: a start option in
-- job_insert_many made the planner re-plan every plain insert, 0.4 ms each.)
WITH async_commit AS (
    SELECT set_config('synchronous_commit', 'off', true)
), new AS MATERIALIZED (
    -- (MATERIALIZED: inlined, the options' JSON was parsed again for each of its uses,
    -- about 0.1 ms of a 0.5 ms insert)
    SELECT :options::text::jsonb AS o, NOT EXISTS (
        SELECT 1 FROM jobsvc_jobs q
        WHERE q.state = 'queued' AND q.handler = :handler AND q.version = :version
          AND q.run_at <= now() AND q.priority >= :priority
    ) AS starts
), inserted AS (
    INSERT INTO jobsvc_jobs
        (id, handler, version_selector, version, state, priority, input, input_type_url,
         input_data, labels, run_at, order_at, last_seq, max_attempts, retry_initial_interval,
         retry_backoff_coefficient, retry_maximum_interval, non_retryable_error_types, attempt_timeout,
         deadline_at, start_deadline_at, retention, input_hash, trace_context,
         attempt, attempt_token, lease_owner, lease_expires_at, attempt_deadline, started_at)
    SELECT :id, :handler, :version_selector, :version, CASE WHEN starts THEN 'running' ELSE 'queued' END,
           :priority, :input::text::jsonb, :input_type_url, :input_data, :labels::text::jsonb, now(), now(),
           CASE WHEN starts THEN 2 ELSE 1 END,
           (o ->> 'max_attempts')::integer, (o ->> 'initial_interval')::double precision,
           (o ->> 'backoff_coefficient')::double precision, (o ->> 'maximum_interval')::double precision,
           ARRAY(SELECT jsonb_array_elements_text(o -> 'non_retryable_error_types')),
           (o ->> 'attempt_timeout')::double precision,
           now() + make_interval(secs => (o ->> 'execution_timeout')::double precision),
           now() + make_interval(secs => (o ->> 'schedule_to_start_timeout')::double precision),
           (o ->> 'retention')::double precision, o ->> 'input_hash', nullif(o -> 'trace_context', 'null'::jsonb),
           CASE WHEN starts THEN 1 ELSE 0 END,
           CASE WHEN starts THEN gen_random_uuid() END,
           CASE WHEN starts THEN :owner::text END,
           CASE WHEN starts THEN least(now() + make_interval(secs => :lease_seconds),
               coalesce(now() + make_interval(secs => (o ->> 'attempt_timeout')::double precision), 'infinity')) END,
           CASE WHEN starts THEN now() + make_interval(secs => (o ->> 'attempt_timeout')::double precision) END,
           CASE WHEN starts THEN now() END
    FROM new
    -- (the uncorrelated subquery is a one-time filter: it runs async_commit's set_config)
    WHERE (SELECT count(*) FROM async_commit) >= 0
    RETURNING id, handler, version, state, created_at, run_at, attempt_token, lease_expires_at, attempt_deadline
), queued_event AS (
    INSERT INTO jobsvc_job_events (job_id, seq, kind, time, data)
    SELECT id, 1, 'queued', created_at, jsonb_build_object('handler', handler, 'version', version)
    FROM inserted
), started_event AS (
    INSERT INTO jobsvc_job_events (job_id, seq, kind, time, data)
    SELECT id, 2, 'started', created_at, jsonb_build_object('attempt', 1, 'executor', :owner::text)
    FROM inserted WHERE state = 'running'
)
SELECT id, state, created_at, run_at, attempt_token, lease_expires_at, attempt_deadline FROM inserted;

-- name: job_get
-- One job. :payloads false is the BASIC view: input and result come back NULL, and a
-- large (toasted) payload is not even read, as a CASE whose branch is not taken never
-- fetches its column's value. waiting_kind says why a queued job is not running (as a
-- jobsvc.domain.flow.WaitReason): scheduled for later (or backing off before a retry, or in
-- a durable sleep: due at the end of a sleep it recorded), parked waiting for its child
-- jobs (state waiting, children_pending > 0), no
-- process that serves its exact version seen for 30 seconds, or its concurrency or rate
-- limit is full. job_list computes it the same way.
SELECT id, handler, version_selector, version, state, priority,
       CASE WHEN :payloads::boolean THEN input END AS input,
       CASE WHEN :payloads::boolean THEN input_type_url END AS input_type_url,
       CASE WHEN :payloads::boolean THEN input_data END AS input_data,
       CASE WHEN :payloads::boolean THEN result END AS result,
       CASE WHEN :payloads::boolean THEN result_type_url END AS result_type_url,
       CASE WHEN :payloads::boolean THEN result_data END AS result_data,
       error, attempt, idempotency_key, labels, created_at, run_at, started_at, finished_at,
       cancel_requested, last_seq, progress_percent, progress_message, max_attempts, attempt_errors,
       cached_from, redrive_of, concurrency_key, concurrency_limit, rate_key, rate_limit, rate_period,
       fairness_key, trace_context,
       CASE
           WHEN state = 'waiting' AND children_pending > 0 THEN 'children'
           WHEN state <> 'queued' THEN ''
           WHEN run_at > now() THEN CASE
               WHEN sleeps IS NOT NULL AND EXISTS (SELECT 1 FROM jsonb_each_text(sleeps) s
                                                   WHERE s.value::timestamptz = run_at) THEN 'sleeping'
               WHEN attempt > 0 THEN 'retry_backoff' ELSE 'scheduled' END
           WHEN EXISTS (SELECT 1 FROM jobsvc_pauses p WHERE p.handler = jobsvc_jobs.handler
                        AND p.version IN ('', jobsvc_jobs.version) AND p.flow_key = '')
             OR EXISTS (SELECT 1 FROM jobsvc_pauses p WHERE p.handler = '' AND p.version = ''
                        AND p.flow_key IN (concurrency_key, rate_key, fairness_key))
               THEN 'paused'
           WHEN NOT EXISTS (SELECT 1 FROM jobsvc_handlers h WHERE h.name = handler AND h.version = version
                            AND h.last_seen_at > now() - interval '30 seconds')
               THEN 'no_worker'
           WHEN concurrency_key IS NOT NULL AND EXISTS (SELECT 1 FROM jobsvc_concurrency c
                   WHERE c.key = concurrency_key AND c.running >= concurrency_limit)
               THEN 'concurrency_limit'
           WHEN rate_key IS NOT NULL AND EXISTS (SELECT 1 FROM jobsvc_rate_windows w
                   WHERE w.key = rate_key AND w.blocked_until > now())
               THEN 'rate_limit'
           ELSE ''
       END AS waiting_kind
FROM jobsvc_jobs
WHERE id = :job_id;

-- name: job_get_by_idempotency_keys
SELECT id, handler, version_selector, version, state, priority,
       input, input_type_url, input_data, result, result_type_url, result_data,
       error, attempt, idempotency_key, labels, created_at, run_at, started_at, finished_at,
       cancel_requested, last_seq, progress_percent, progress_message, max_attempts, attempt_errors,
       cached_from, redrive_of, concurrency_key, concurrency_limit, rate_key, rate_limit, rate_period,
       fairness_key, trace_context
FROM jobsvc_jobs
WHERE idempotency_key = ANY(:keys::text[]);

-- name: job_get_history
-- A job moved to jobsvc_jobs_history (job_get found none in jobsvc_jobs): finished, so it
-- waits for nothing. Probes every partition's id index; only a miss of job_get reads it.
SELECT *, '' AS waiting_kind FROM jobsvc_jobs_history WHERE id = :job_id LIMIT 1;

-- name: job_event_list_history
-- job_event_list of a job in the history: its events are in the partition of its day.
SELECT j.state AS job_state, j.last_seq AS job_last_seq,
       e.job_id, e.seq, e.kind, e.time, e.data, e.payload, e.payload_type_url, e.payload_data
FROM jobsvc_jobs_history j
LEFT JOIN LATERAL (
    SELECT * FROM jobsvc_job_events_history
    WHERE job_id = j.id AND expires_at = j.expires_at AND seq > :after_seq
    ORDER BY seq
    LIMIT :limit
) e ON true
WHERE j.id = :job_id
ORDER BY e.seq;

-- name: job_list
-- Newest first, keyset-paginated on (created_at, id): :states NULL is any state,
-- :handler, :version and :labels NULL any, :created_after/:created_before NULL unbounded (the
-- range bounds the walk of jobsvc_jobs_created_idx at both ends), a NULL cursor the first page; :page_size is one more than
-- shown, to know whether a next page exists. :payloads and waiting_kind as in job_get.
SELECT id, handler, version_selector, version, state, priority,
       CASE WHEN :payloads::boolean THEN input END AS input,
       CASE WHEN :payloads::boolean THEN input_type_url END AS input_type_url,
       CASE WHEN :payloads::boolean THEN input_data END AS input_data,
       CASE WHEN :payloads::boolean THEN result END AS result,
       CASE WHEN :payloads::boolean THEN result_type_url END AS result_type_url,
       CASE WHEN :payloads::boolean THEN result_data END AS result_data,
       error, attempt, idempotency_key, labels, created_at, run_at, started_at, finished_at,
       cancel_requested, last_seq, progress_percent, progress_message, max_attempts, attempt_errors,
       cached_from, redrive_of, concurrency_key, concurrency_limit, rate_key, rate_limit, rate_period,
       fairness_key, trace_context,
       CASE
           WHEN state = 'waiting' AND children_pending > 0 THEN 'children'
           WHEN state <> 'queued' THEN ''
           WHEN run_at > now() THEN CASE
               WHEN sleeps IS NOT NULL AND EXISTS (SELECT 1 FROM jsonb_each_text(sleeps) s
                                                   WHERE s.value::timestamptz = run_at) THEN 'sleeping'
               WHEN attempt > 0 THEN 'retry_backoff' ELSE 'scheduled' END
           WHEN EXISTS (SELECT 1 FROM jobsvc_pauses p WHERE p.handler = jobsvc_jobs.handler
                        AND p.version IN ('', jobsvc_jobs.version) AND p.flow_key = '')
             OR EXISTS (SELECT 1 FROM jobsvc_pauses p WHERE p.handler = '' AND p.version = ''
                        AND p.flow_key IN (concurrency_key, rate_key, fairness_key))
               THEN 'paused'
           WHEN NOT EXISTS (SELECT 1 FROM jobsvc_handlers h WHERE h.name = handler AND h.version = version
                            AND h.last_seen_at > now() - interval '30 seconds')
               THEN 'no_worker'
           WHEN concurrency_key IS NOT NULL AND EXISTS (SELECT 1 FROM jobsvc_concurrency c
                   WHERE c.key = concurrency_key AND c.running >= concurrency_limit)
               THEN 'concurrency_limit'
           WHEN rate_key IS NOT NULL AND EXISTS (SELECT 1 FROM jobsvc_rate_windows w
                   WHERE w.key = rate_key AND w.blocked_until > now())
               THEN 'rate_limit'
           ELSE ''
       END AS waiting_kind
FROM jobsvc_jobs
WHERE (:states::text[] IS NULL OR state = ANY(:states))
  AND (:handler::text IS NULL OR handler = :handler)
  -- :labels (JSON text, NULL for any): containment through jobsvc_jobs_labels_idx, whose
  -- condition is repeated so the planner may use the partial index.
  AND (:labels::text IS NULL OR (labels @> :labels::text::jsonb AND labels <> '{}'::jsonb))
  AND (:version::text IS NULL OR version = :version)
  AND (:created_after::timestamptz IS NULL OR created_at >= :created_after)
  AND (:created_before::timestamptz IS NULL OR created_at < :created_before)
  AND (:cursor_created_at::timestamptz IS NULL OR (created_at, id) < (:cursor_created_at, :cursor_id::uuid))
  -- Every running job holds a lease. Said here, it lets a listing of running jobs read
  -- them through jobsvc_jobs_leased_idx (a few rows, then sorted) instead of walking the
  -- whole history by creation time for the few that are running (bench/dashboard_pages.py).
  AND (:states::text[] IS DISTINCT FROM ARRAY['running'] OR lease_expires_at IS NOT NULL)
ORDER BY created_at DESC, id DESC
LIMIT :page_size;

-- name: job_claim
-- job_claim_limited for handler versions that have no flow control (most): the same
-- hand-out order, clock and result shape, without the limit bookkeeping.
WITH served AS (
    SELECT left(key, -strpos(reverse(key), '@')) AS handler, right(key, strpos(reverse(key), '@') - 1) AS version
    FROM unnest(:served::text[]) AS key
), next AS MATERIALIZED (
    -- Each served version's queue is walked apart through its own range of
    -- jobsvc_jobs_queued_by_version_idx (as job_claim_limited's): the jobs of versions not served
    -- here, or paused, are never read, however many. Then the first :limit of them all in
    -- hand-out order (the others locked meanwhile stay queued when the statement ends).
    SELECT q.id FROM served s, LATERAL (
        SELECT id, priority, order_at FROM jobsvc_jobs
        WHERE state = 'queued' AND handler = s.handler AND version = s.version
          AND run_at <= coalesce(:now::timestamptz, now())
        ORDER BY priority DESC, order_at, id
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    ) q
    ORDER BY q.priority DESC, q.order_at, q.id
    LIMIT :limit
), claimed AS (
    UPDATE jobsvc_jobs j SET
        state = 'running',
        attempt = j.attempt + 1,
        attempt_token = gen_random_uuid(),
        lease_owner = :owner,
        attempt_deadline = coalesce(:now, now()) + make_interval(secs => j.attempt_timeout),
        lease_expires_at = least(coalesce(:now, now()) + make_interval(secs => :lease_seconds),
                                 coalesce(coalesce(:now, now()) + make_interval(secs => j.attempt_timeout), 'infinity')),
        started_at = coalesce(:now, now()),
        last_seq = j.last_seq + 1
    FROM next WHERE j.id = next.id
    RETURNING j.id, j.handler, j.version_selector, j.version, j.state, j.priority,
              j.input, j.input_type_url, j.input_data, j.result, j.result_type_url, j.result_data,
              j.error, j.attempt, j.idempotency_key, j.labels, j.created_at, j.run_at, j.started_at, j.finished_at,
              j.cancel_requested, j.last_seq, j.progress_percent, j.progress_message, j.max_attempts,
              j.attempt_errors, j.cached_from, j.redrive_of, j.concurrency_key, j.concurrency_limit,
              j.rate_key, j.rate_limit, j.rate_period, j.fairness_key, j.trace_context,
              j.attempt_token, j.lease_expires_at, j.attempt_deadline
), started_event AS (
    INSERT INTO jobsvc_job_events (job_id, seq, kind, data)
    SELECT id, last_seq, 'started', jsonb_build_object('attempt', attempt, 'executor', :owner::text)
    FROM claimed
)
SELECT claimed.*, stats.candidates, NULL::timestamptz AS rate_retry_at
FROM (SELECT (SELECT count(*) FROM next) AS candidates) stats
LEFT JOIN claimed ON true;

-- name: job_claim_limited
-- Leases up to :limit due jobs (run_at at or before :now) of the (handler, version)
-- pairs this executor serves (:served, 'name@version' keys) to :owner for :lease_seconds,
-- and logs "started". Jobs over their concurrency or rate limit stay queued, in order.
-- Always returns at least one row: id is NULL when nothing was claimed; `candidates`
-- says how many due jobs were looked at (all of :limit: more may be claimable now),
-- `rate_retry_at` when a full rate window next opens. Rate windows run by the wall clock
-- (jobsvc_rate_take reads clock_timestamp()), whatever :now says.
WITH served AS (
    -- 'name@version' split at its last '@' (a version holds none).
    SELECT left(key, -strpos(reverse(key), '@')) AS handler, right(key, strpos(reverse(key), '@') - 1) AS version
    FROM unnest(:served::text[]) AS key
), next AS MATERIALIZED (
    -- MATERIALIZED keeps the planner from re-running the SKIP LOCKED scan inside
    -- the UPDATE (which, inlined, can claim rows it did not lock first).
    -- Each served version's queue is walked apart, through its own range of
    -- jobsvc_jobs_queued_by_version_idx: the queued jobs of other versions (not served here, or
    -- paused), however many, are never read. Then the first :limit of them all in
    -- hand-out order; the others locked meanwhile stay queued when the statement ends.
    SELECT q.* FROM served s, LATERAL (
    SELECT id, priority, order_at, concurrency_key, concurrency_limit, rate_key, rate_limit, rate_period
    FROM jobsvc_jobs j
    WHERE state = 'queued' AND handler = s.handler AND version = s.version
      AND run_at <= coalesce(:now::timestamptz, now())
      -- Keys known to be at their limit are passed over (a stale read is fine: the locked
      -- counts below decide), so their jobs do not crowd out others in this batch.
      AND (concurrency_key IS NULL OR NOT EXISTS (
          SELECT 1 FROM jobsvc_concurrency c WHERE c.key = j.concurrency_key AND c.running >= j.concurrency_limit))
      AND (rate_key IS NULL OR NOT EXISTS (
          SELECT 1 FROM jobsvc_rate_windows w WHERE w.key = j.rate_key AND w.blocked_until > clock_timestamp()))
      -- Paused flow-control keys (jobsvc_pauses). NULL while none is paused: then one
      -- test per row (claims run a generic plan, see create_pool(for_claims=True)).
      -- (IS NOT TRUE: a job without some key compares NULL on it.)
      AND (:paused_keys::text[] IS NULL OR (concurrency_key = ANY(:paused_keys)
           OR rate_key = ANY(:paused_keys) OR fairness_key = ANY(:paused_keys)) IS NOT TRUE)
    ORDER BY priority DESC, order_at, id
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
    ) q
    ORDER BY q.priority DESC, q.order_at, q.id
    LIMIT :limit
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
        lease_owner = :owner,
        attempt_deadline = coalesce(:now, now()) + make_interval(secs => j.attempt_timeout),
        -- The lease never outlives the attempt's deadline: the rescuer ends a hung attempt.
        lease_expires_at = least(coalesce(:now, now()) + make_interval(secs => :lease_seconds),
                                 coalesce(coalesce(:now, now()) + make_interval(secs => j.attempt_timeout), 'infinity')),
        -- A rate-limited job starts at its grant, so windows over started_at are exact.
        started_at = coalesce(chosen.granted_at, :now, now()),
        last_seq = j.last_seq + 1
    FROM chosen WHERE j.id = chosen.id
    RETURNING j.id, j.handler, j.version_selector, j.version, j.state, j.priority,
              j.input, j.input_type_url, j.input_data, j.result, j.result_type_url, j.result_data,
              j.error, j.attempt, j.idempotency_key, j.labels, j.created_at, j.run_at, j.started_at, j.finished_at,
              j.cancel_requested, j.last_seq, j.progress_percent, j.progress_message, j.max_attempts,
              j.attempt_errors, j.cached_from, j.redrive_of, j.concurrency_key, j.concurrency_limit,
              j.rate_key, j.rate_limit, j.rate_period, j.fairness_key, j.trace_context,
              j.attempt_token, j.lease_expires_at, j.attempt_deadline
), started_event AS (
    INSERT INTO jobsvc_job_events (job_id, seq, kind, data)
    SELECT id, last_seq, 'started', jsonb_build_object('attempt', attempt, 'executor', :owner::text)
    FROM claimed
)
SELECT claimed.*, stats.candidates, stats.rate_retry_at
FROM (SELECT (SELECT count(*) FROM next) AS candidates,
             (SELECT min(blocked_until) FROM jobsvc_rate_windows WHERE blocked_until > now()) AS rate_retry_at) stats
LEFT JOIN claimed ON true;

-- name: job_lease_extend
-- Extends the leases of attempts by (job, attempt token), for the lease keeper of a lane
-- and the heartbeats of remote workers; returns the leases still held (an attempt that
-- was settled or rescued is missing, so its holder learns its lease is gone).
-- Rows are locked in id order, as every multi-row write of running jobs does: two
-- such statements locking shared rows in different orders would deadlock.
WITH held AS MATERIALIZED (
    SELECT j.id FROM jobsvc_jobs j
    JOIN unnest(:job_ids::uuid[], :tokens::uuid[]) AS ref(id, token) ON j.id = ref.id AND j.attempt_token = ref.token
    WHERE j.state = 'running'
    ORDER BY j.id
    FOR UPDATE OF j
)
UPDATE jobsvc_jobs j SET
    lease_expires_at = least(now() + make_interval(secs => :lease_seconds), coalesce(j.attempt_deadline, 'infinity'))
FROM held
WHERE j.id = held.id
RETURNING j.id, j.cancel_requested, j.lease_expires_at;

-- name: job_lease_shorten
-- A worker's session ended: its leases run out after a short grace unless it comes back.
UPDATE jobsvc_jobs SET lease_expires_at = least(lease_expires_at, now() + make_interval(secs => :grace_seconds))
-- (lease_expires_at IS NOT NULL: the leased jobs, through jobsvc_jobs_leased_idx)
WHERE lease_owner = :owner AND state = 'running' AND lease_expires_at IS NOT NULL;

-- name: job_fail_attempt
-- The function's UPDATE is invisible to this statement's snapshot, so the join reads the
-- row as the failed attempt left it: its handler, version, attempt number and start.
SELECT j.id, f.new_state, f.next_run_at, f.event_seq, j.handler, j.version, j.attempt,
       extract(epoch FROM now() - j.started_at)::float8 AS attempt_seconds,
       extract(epoch FROM now() - j.created_at)::float8 AS job_seconds
FROM jobsvc_fail_attempt(:job_id, :token, :error::jsonb, :retry_delay, :non_retryable) f
JOIN jobsvc_jobs j ON j.id = :job_id;

-- name: job_event_append_many
-- job_event_append for several events of one attempt at once, in order (a handler that
-- reports fast is written in few statements). Returns the job's last sequence number.
WITH input AS (
    SELECT * FROM unnest(:kinds::text[], :datas::text[], :payloads::text[], :payload_type_urls::text[],
                         :payload_datas::bytea[]) WITH ORDINALITY
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
    WHERE id = :job_id AND attempt_token = :token AND state = 'running'
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
    SELECT * FROM unnest(:job_ids::uuid[], :tokens::uuid[], :states::text[], :results::text[],
                         :result_type_urls::text[], :result_datas::bytea[], :errors::text[])
        AS t(id, token, state, result, result_type_url, result_data, error)
), rows_locked AS MATERIALIZED (
    -- The job rows first, in id order (see job_lease_extend). Their keys' concurrency
    -- counters are written last, once per key in key order, by the statement trigger
    -- jobsvc_jobs_concurrency_apply: rows before counters, as claims take them (a claim
    -- may hold a running job's row, locked by its SKIP LOCKED walk and then found no
    -- longer queued, while it waits for a counter).
    SELECT j.id, j.workflow_id, j.parent_id FROM jobsvc_jobs j
    WHERE j.id = ANY(:job_ids::uuid[]) AND j.state = 'running'
    ORDER BY j.id
    FOR UPDATE OF j
), parents_locked AS MATERIALIZED (
    -- Then the parents of these jobs (child jobs, ctx.spawn), in id order: the trigger that
    -- counts a finished child off its waiting parent (jobsvc_jobs_child_finished) would
    -- otherwise lock them child by child, and two batches finishing children of the same
    -- two parents could deadlock. For other jobs the array is empty and no index is read.
    SELECT p.id FROM jobsvc_jobs p
    WHERE p.id = ANY(ARRAY(SELECT parent_id FROM rows_locked WHERE parent_id IS NOT NULL))
    ORDER BY p.id
    FOR UPDATE OF p
), dependants_locked AS MATERIALIZED (
    -- Then the workflow steps that wait on these jobs, in id order: the trigger that counts
    -- a finished step off its dependants (jobsvc_workflow_step_finished) would otherwise
    -- lock them parent by parent, and two batches could deadlock. For plain jobs the
    -- array is empty and no index is read.
    SELECT s.job_id FROM jobsvc_workflow_steps s
    WHERE s.job_id = ANY(ARRAY(
        SELECT unnest(p.child_ids) FROM jobsvc_workflow_steps p
        WHERE p.job_id = ANY(ARRAY(SELECT id FROM rows_locked WHERE workflow_id IS NOT NULL))))
    ORDER BY s.job_id
    FOR UPDATE OF s
), locked AS MATERIALIZED (
    SELECT count(*) AS n FROM rows_locked
    WHERE (SELECT count(*) FROM dependants_locked) >= 0 AND (SELECT count(*) FROM parents_locked) >= 0
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
    WHERE id = :job_id AND attempt_token = :token AND state = 'running'
    RETURNING id, last_seq
), requeued_event AS (
    INSERT INTO jobsvc_job_events (job_id, seq, kind, data)
    SELECT id, last_seq, 'requeued', jsonb_build_object('reason', :reason::text) FROM requeued
)
SELECT last_seq FROM requeued;

-- name: job_park
-- Parks the attempt holding :token (ctx.wait, ctx.sleep): see jobsvc_job_park (migration
-- 0014). No row for a stale token.
SELECT new_state, event_seq, wake_at
FROM jobsvc_job_park(:job_id, :token, :children::uuid[], :until::timestamptz, :sleep_key::text);

-- name: job_spawn_parent
-- The first step of a spawn: locks the parent while its attempt holding :token runs (no
-- row otherwise), with the child already spawned under :spawn_key, if any (a replay).
SELECT p.id, c.id AS child_id, c.handler AS child_handler
FROM jobsvc_jobs p
LEFT JOIN jobsvc_jobs c ON c.parent_id = p.id AND c.spawn_key = :spawn_key
WHERE p.id = :parent_id AND p.attempt_token = :token AND p.state = 'running'
FOR UPDATE OF p;

-- name: job_spawn_link
-- The last step of a spawn: the child (inserted by job_insert_many in the same
-- transaction) is linked to its parent under its key, and the parent marked as having
-- children (a cancel of it then cancels theirs).
WITH linked AS (
    UPDATE jobsvc_jobs SET parent_id = :parent_id, spawn_key = :spawn_key WHERE id = :child_id
    RETURNING id
)
UPDATE jobsvc_jobs SET has_children = true
WHERE id = :parent_id AND NOT has_children AND (SELECT count(*) FROM linked) >= 0;

-- name: job_list_history
-- job_list's page from the history (0016), which PgStore.job_list merges with the live
-- table's. Apart, not a UNION ALL in job_list: a branch with a condition of its own (the
-- history is read only for finished states) cannot join the append PostgreSQL merges in
-- order, and the history was then read whole and sorted for a first page (0.6 s at 1 M).
-- Finished jobs wait for nothing; payloads are left out by PgStore for the BASIC view.
SELECT *, '' AS waiting_kind
FROM jobsvc_jobs_history
WHERE (:states::text[] IS NULL OR state = ANY(:states))
  AND (:handler::text IS NULL OR handler = :handler)
  AND (:labels::text IS NULL OR (labels @> :labels::text::jsonb AND labels <> '{}'::jsonb))
  AND (:version::text IS NULL OR version = :version)
  AND (:created_after::timestamptz IS NULL OR created_at >= :created_after)
  AND (:created_before::timestamptz IS NULL OR created_at < :created_before)
  AND (:cursor_created_at::timestamptz IS NULL OR (created_at, id) < (:cursor_created_at, :cursor_id::uuid))
ORDER BY created_at DESC, id DESC
LIMIT :page_size;

-- name: job_list_history_unsucceeded
-- job_list_history for one state other than succeeded (the failed or cancelled page):
-- the condition written out lets every plan, generic ones too, read its jobs in order
-- through jobsvc_jobs_history_unsucceeded_idx instead of walking the history by creation
-- (0.4 s a page at 1 M jobs).
SELECT *, '' AS waiting_kind
FROM jobsvc_jobs_history
WHERE state <> 'succeeded' AND state = :state
  AND (:handler::text IS NULL OR handler = :handler)
  AND (:labels::text IS NULL OR (labels @> :labels::text::jsonb AND labels <> '{}'::jsonb))
  AND (:version::text IS NULL OR version = :version)
  AND (:created_after::timestamptz IS NULL OR created_at >= :created_after)
  AND (:created_before::timestamptz IS NULL OR created_at < :created_before)
  AND (:cursor_created_at::timestamptz IS NULL OR (created_at, id) < (:cursor_created_at, :cursor_id::uuid))
ORDER BY created_at DESC, id DESC
LIMIT :page_size;

-- name: job_children_get
-- The children of :parent_id among :child_ids, with their results.
SELECT id, handler, version_selector, version, state, priority,
       input, input_type_url, input_data, result, result_type_url, result_data,
       error, attempt, idempotency_key, labels, created_at, run_at, started_at, finished_at,
       cancel_requested, last_seq, progress_percent, progress_message, max_attempts, attempt_errors,
       cached_from, redrive_of, concurrency_key, concurrency_limit, rate_key, rate_limit, rate_period,
       fairness_key, trace_context, cancel_reason
FROM jobsvc_jobs
WHERE parent_id = :parent_id AND id = ANY(:child_ids::uuid[]);

-- name: job_sleeps_get
-- The durable sleeps a job recorded, by key: when each ends.
SELECT sleeps FROM jobsvc_jobs WHERE id = :job_id;

-- name: job_rescue_expired
-- Ends attempts whose lease ran out by :now (their executor or worker died, or the
-- attempt hit its timeout) as failed attempts, so a job that kills its worker every time
-- still ends after max_attempts. SKIP LOCKED lets every replica run this at once: each
-- lease is rescued by exactly one. (jobsvc_fail_attempt stamps the retry or failure with
-- the database's clock: :now decides which leases have expired.)
WITH expired AS MATERIALIZED (
    SELECT id, attempt_token, attempt_deadline, handler, version, attempt, started_at, created_at
    FROM jobsvc_jobs
    WHERE state = 'running' AND lease_expires_at < coalesce(:now::timestamptz, now())
    ORDER BY lease_expires_at
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
), dependants_locked AS MATERIALIZED (
    -- The workflow steps waiting on these jobs, in id order, as job_finish_many locks them.
    SELECT s.job_id FROM jobsvc_workflow_steps s
    WHERE s.job_id = ANY(ARRAY(SELECT unnest(p.child_ids) FROM jobsvc_workflow_steps p
                               WHERE p.job_id = ANY(ARRAY(SELECT id FROM expired))))
    ORDER BY s.job_id
    FOR UPDATE OF s
)
SELECT e.id, f.new_state, f.next_run_at, e.handler, e.version, e.attempt,
       extract(epoch FROM coalesce(:now, now()) - e.started_at)::float8 AS attempt_seconds,
       extract(epoch FROM coalesce(:now, now()) - e.created_at)::float8 AS job_seconds
FROM expired e, LATERAL jobsvc_fail_attempt(e.id, e.attempt_token,
    CASE WHEN e.attempt_deadline <= coalesce(:now, now())
         THEN '{"type": "jobsvc.AttemptTimeout", "message": "the attempt ran past its timeout"}'
         ELSE '{"type": "jobsvc.LeaseExpired", "message": "the executor or worker stopped renewing its lease"}'
    END::jsonb, NULL, false) f
-- (a one-time filter: the dependants are locked before any attempt fails)
WHERE (SELECT count(*) FROM dependants_locked) >= 0;

-- name: job_expire_deadlines
-- Fails jobs past their execution deadline, and queued jobs past their
-- schedule-to-start deadline, by :now; running ones are also told to stop.
WITH expired AS MATERIALIZED (
    SELECT id, state AS old_state,
           CASE WHEN deadline_at < coalesce(:now::timestamptz, now()) THEN 'jobsvc.DeadlineExceeded'
                ELSE 'jobsvc.ScheduleToStartTimeout' END AS error_type
    FROM jobsvc_jobs
    WHERE (state IN ('queued', 'running') AND deadline_at < coalesce(:now, now()))
       OR (state = 'queued' AND start_deadline_at < coalesce(:now, now()))
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
), dependants_locked AS MATERIALIZED (
    -- The workflow steps waiting on these jobs, in id order, as job_finish_many locks them.
    SELECT s.job_id FROM jobsvc_workflow_steps s
    WHERE s.job_id = ANY(ARRAY(SELECT unnest(p.child_ids) FROM jobsvc_workflow_steps p
                               WHERE p.job_id = ANY(ARRAY(SELECT id FROM expired))))
    ORDER BY s.job_id
    FOR UPDATE OF s
), failed AS (
    UPDATE jobsvc_jobs j SET
        state = 'failed', finished_at = coalesce(:now, now()),
        error = jsonb_build_object('type', e.error_type, 'attempt', j.attempt, 'message',
            CASE e.error_type WHEN 'jobsvc.DeadlineExceeded' THEN 'the job did not finish before its deadline'
                 ELSE 'no executor or worker started the job in time' END),
        attempt_token = NULL, lease_owner = NULL, lease_expires_at = NULL, attempt_deadline = NULL,
        last_seq = j.last_seq + 1
    FROM expired e WHERE j.id = e.id AND (SELECT count(*) FROM dependants_locked) >= 0
    RETURNING j.id, j.last_seq, j.error, e.old_state, j.handler, j.version, j.attempt,
              extract(epoch FROM coalesce(:now, now()) - j.created_at)::float8 AS job_seconds
), failed_event AS (
    INSERT INTO jobsvc_job_events (job_id, seq, kind, data)
    SELECT id, last_seq, 'failed', jsonb_build_object('error', error) FROM failed
)
SELECT id, handler, version, attempt, job_seconds,
       CASE WHEN old_state = 'running' THEN pg_notify('jobsvc_cancel', id::text) END
FROM failed;

-- name: job_reap_finished
-- Deletes jobs finished longer than their retention before :now, and their events.
WITH reaped AS (
    DELETE FROM jobsvc_jobs WHERE id IN (
        SELECT id FROM jobsvc_jobs
        WHERE finished_at < coalesce(:now::timestamptz, now()) - make_interval(secs => retention)
        LIMIT :limit
    )
    RETURNING id
), events AS (
    DELETE FROM jobsvc_job_events WHERE job_id IN (SELECT id FROM reaped)
)
SELECT id FROM reaped;

-- name: plan_history_move
-- The planner settings of the move's transaction. Its statements take a few thousand rows
-- each by id (the walked jobs, their events): through the indexes that costs 40 us a
-- job, but the planner, pricing that many probes above a sequential scan, read the whole
-- events table into a hash instead (80 us a job on 200,000 live jobs, and growing with
-- them); and its cost estimates then crossed JIT's threshold, 0.3 s of compiling each.
SET LOCAL enable_seqscan = off;
SET LOCAL jit = off;

-- name: job_history_walk
-- The history move's first step (job_history_move is the last, in one transaction): lock
-- the move's mark (SKIP LOCKED: no row when another replica is at it) and walk up to
-- :limit jobs finished after it, in (finished_at, id) order, up to the cutoff:
-- :history_after seconds before :now, or the roll-up's watermark if that is earlier (the
-- overview counts the jobs finished after it from jobsvc_jobs). For each, whether it moves
-- (0016 says which stay; an expired one is the reaper's) and when its retention ends. One
-- row with a NULL id: nothing to walk up to the cutoff. Both marks are one row, and the
-- LIMIT 1 says so to the planner: a join of the two unanalyzed tables made it expect
-- millions of rows, and JIT-compile the statement for them (0.3 s at every walk).
WITH mark AS (
    SELECT m.through_at, m.through_id,
           least(coalesce(:now::timestamptz, now()) - make_interval(secs => :history_after),
                 (SELECT r.through FROM jobsvc_finished_rollup r LIMIT 1)) AS cutoff
    FROM jobsvc_history_mark m
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
SELECT mark.cutoff, j.id, j.finished_at, j.expires_at,
       (j.state IN ('succeeded', 'cancelled') OR (j.state = 'failed' AND j.redriven))
       AND j.idempotency_key IS NULL AND j.input_hash IS NULL AND j.workflow_id IS NULL
       AND j.parent_id IS NULL AND NOT j.has_children
       AND j.expires_at > coalesce(:now::timestamptz, now()) AS moves
FROM mark
LEFT JOIN LATERAL (
    SELECT id, finished_at, state, redriven, idempotency_key, input_hash, workflow_id, parent_id, has_children,
           finished_at + make_interval(secs => retention) AS expires_at
    FROM jobsvc_jobs
    WHERE finished_at IS NOT NULL AND finished_at >= mark.through_at AND finished_at < mark.cutoff
      AND (finished_at, id) > (mark.through_at, mark.through_id)
    ORDER BY finished_at, id
    LIMIT :limit
) j ON true
ORDER BY j.finished_at, j.id;

-- name: job_history_partitions_make
-- The history's partitions for the days :days, those not made yet (before a move puts
-- rows in them).
SELECT jobsvc_history_partition(d) FROM unnest(:days::date[]) d;

-- name: job_history_move
-- Moves the finished jobs :job_ids and their events from jobsvc_jobs and
-- jobsvc_job_events to the history (rows of both keep their columns, expires_at first),
-- and sets the move's mark to (:through_at, :through_id). How many jobs moved.
WITH jobs AS (
    DELETE FROM jobsvc_jobs j
    WHERE j.id = ANY(:job_ids::uuid[]) AND j.finished_at IS NOT NULL
    RETURNING j.finished_at + make_interval(secs => j.retention) AS expires_at, j.*
), moved AS (
    INSERT INTO jobsvc_jobs_history SELECT * FROM jobs
    RETURNING id, expires_at
), events AS (
    DELETE FROM jobsvc_job_events e USING moved m
    WHERE e.job_id = m.id
    RETURNING m.expires_at, e.*
), events_moved AS (
    INSERT INTO jobsvc_job_events_history SELECT * FROM events
), marked AS (
    UPDATE jobsvc_history_mark SET through_at = :through_at::timestamptz, through_id = :through_id::uuid
)
SELECT count(*) AS moved FROM moved;

-- name: job_history_partitions_over
-- The history's partitions whose day is over by :now (those of both tables, and tables
-- left by a drop that stopped between its detach and its drop): the name ends with the
-- UTC day its rows expire. parent: NULL when detached already; detaching: a DETACH
-- CONCURRENTLY that did not finish (it is finished with FINALIZE).
SELECT c.relname::text AS name, p.relname::text AS parent, coalesce(i.inhdetachpending, false) AS detaching,
       to_date(right(c.relname, 8), 'YYYYMMDD') AS day
FROM pg_class c
LEFT JOIN pg_inherits i ON i.inhrelid = c.oid
LEFT JOIN pg_class p ON p.oid = i.inhparent
WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'
  AND c.relname ~ '^jobsvc_(jobs|job_events)_history_[0-9]{8}$'
  AND (to_date(right(c.relname, 8), 'YYYYMMDD') + 1)::timestamp AT TIME ZONE 'UTC' <= coalesce(:now::timestamptz, now())
ORDER BY c.relname;

-- name: job_redrive_many
-- Re-runs dead-lettered jobs (FAILED, not redriven before) as new jobs with the
-- same spec and a fresh attempt budget: the originals stay FAILED, so a terminal
-- state stays final. By :job_ids, or (:job_ids NULL) by :handler; :version NULL is any.
-- Never a workflow step: a copy outside its workflow would not continue it
-- (workflow_step_redrive does; job_workflow_step names it for the refusal).
WITH dead AS MATERIALIZED (
    SELECT id FROM jobsvc_jobs
    WHERE state = 'failed' AND NOT redriven AND workflow_id IS NULL
      AND ((:job_ids::uuid[] IS NOT NULL AND id = ANY(:job_ids)) OR (:job_ids IS NULL AND handler = :handler))
      AND (:version::text IS NULL OR version = :version)
    ORDER BY finished_at
    LIMIT :limit
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
    RETURNING id, handler, version_selector, version, state, priority,
              input, input_type_url, input_data, result, result_type_url, result_data,
              error, attempt, idempotency_key, labels, created_at, run_at, started_at, finished_at,
              cancel_requested, last_seq, progress_percent, progress_message, max_attempts, attempt_errors,
              cached_from, redrive_of, concurrency_key, concurrency_limit, rate_key, rate_limit, rate_period,
              fairness_key, trace_context
), queued_event AS (
    INSERT INTO jobsvc_job_events (job_id, seq, kind, data)
    SELECT id, 1, 'queued', jsonb_build_object('handler', handler, 'version', version, 'redrive_of', redrive_of)
    FROM inserted
)
SELECT * FROM inserted;

-- name: job_workflow_step
-- The workflow and step name of a job that is a workflow step (no row for a plain job).
SELECT workflow_id::text AS workflow_id, name FROM jobsvc_workflow_steps WHERE job_id = :job_id;

-- name: job_find_cached
-- The newest succeeded job with the same handler version and input within :ttl seconds.
SELECT id FROM jobsvc_jobs
WHERE state = 'succeeded' AND handler = :handler AND version = :version AND input_hash = :input_hash
  AND finished_at > now() - make_interval(secs => :ttl)
ORDER BY finished_at DESC
LIMIT 1;

-- name: job_insert_cached
-- A new job answered from cached job :cached_from's result without running: born SUCCEEDED.
WITH source AS (
    SELECT * FROM jobsvc_jobs WHERE id = :cached_from AND state = 'succeeded'
), inserted AS (
    INSERT INTO jobsvc_jobs
        (id, handler, version_selector, version, state, priority, input, input_type_url, input_data,
         result, result_type_url, result_data, idempotency_key, labels, last_seq, attempt,
         started_at, finished_at, retention, input_hash, cached_from)
    SELECT :job_id, handler, :version_selector, version, 'succeeded', :priority, input, input_type_url, input_data,
           result, result_type_url, result_data, :idempotency_key, :labels::jsonb, 2, 0, now(), now(), retention,
           input_hash, id
    FROM source
    RETURNING id, handler, version_selector, version, state, priority,
              input, input_type_url, input_data, result, result_type_url, result_data,
              error, attempt, idempotency_key, labels, created_at, run_at, started_at, finished_at,
              cancel_requested, last_seq, progress_percent, progress_message, max_attempts, attempt_errors,
              cached_from, redrive_of, concurrency_key, concurrency_limit, rate_key, rate_limit, rate_period,
              fairness_key, trace_context
), events AS (
    INSERT INTO jobsvc_job_events (job_id, seq, kind, data, payload, payload_type_url, payload_data)
    SELECT id, 1, 'queued', jsonb_build_object('handler', handler, 'version', version), NULL, NULL, NULL
    FROM inserted
    UNION ALL
    SELECT id, 2, 'succeeded', jsonb_build_object('attempt', 0, 'cached_from', cached_from),
           result, result_type_url, result_data
    FROM inserted
)
SELECT * FROM inserted;

-- name: job_cancel_queued
-- Cancels a job that has not started (queued, or a workflow step waiting for its
-- parents); the row lock makes this race-free against a claim.
WITH cancelled AS (
    UPDATE jobsvc_jobs SET
        state = 'cancelled', finished_at = now(), cancel_reason = :reason, last_seq = last_seq + 1
    WHERE id = :job_id AND state IN ('queued', 'waiting')
    RETURNING id, last_seq
), cancelled_event AS (
    INSERT INTO jobsvc_job_events (job_id, seq, kind, data)
    SELECT id, last_seq, 'cancelled', jsonb_build_object('reason', :reason::text) FROM cancelled
)
SELECT id FROM cancelled;

-- name: job_cancel_running
-- Asks the executor of a running job to stop it; the executor writes the
-- terminal event when the handler has stopped. Asking again keeps the first
-- reason, as cancelling a cancelled job does (the repeated NOTIFY is harmless).
UPDATE jobsvc_jobs SET cancel_requested = true,
    cancel_reason = CASE WHEN cancel_requested THEN cancel_reason ELSE :reason END
WHERE id = :job_id AND state = 'running'
RETURNING id, pg_notify('jobsvc_cancel', id::text);

-- name: job_event_list
-- Up to :limit events after :after_seq, each row with the job's state and last sequence.
-- One statement is one snapshot, so a reader that sees the job finished has also seen its
-- terminal event: reading the events and then the job could miss one committed between.
-- No row: no such job; one row with a NULL seq: no event after :after_seq.
SELECT j.state AS job_state, j.last_seq AS job_last_seq,
       e.job_id, e.seq, e.kind, e.time, e.data, e.payload, e.payload_type_url, e.payload_data
FROM jobsvc_jobs j
LEFT JOIN LATERAL (
    SELECT * FROM jobsvc_job_events
    WHERE job_id = j.id AND seq > :after_seq
    ORDER BY seq
    LIMIT :limit
) e ON true
WHERE j.id = :job_id
ORDER BY e.seq;

-- name: job_executors_wake
-- :due: epoch second the earliest new job is due, or '' for now.
SELECT pg_notify('jobsvc_jobs', :due);

-- name: job_events_notify
-- One NOTIFY for many changed jobs (:job_ids, comma-separated), sent after their commits,
-- in a transaction of its own. Never inside the transaction that wrote the events:
-- PostgreSQL holds its global notify lock from the commit of a transaction that notified
-- until its WAL is flushed, so every writing transaction that notifies waits for the
-- disk flushes of all the others, one after the other (measured end to end: claims and
-- outcome writes that notified in their own statement spent a third of their time
-- waiting for that lock). A transaction that only notifies writes no WAL.
SELECT pg_notify('jobsvc_events', :job_ids);

-- name: schedule_insert
-- A new schedule; no row when the name is taken.
INSERT INTO jobsvc_schedules
    (name, handler, version_selector, input, input_type_url, input_data, priority, labels, options,
     cron, interval_seconds, time_zone, missed_ticks, while_paused, paused, source, next_tick_at)
VALUES (:name, :handler, :version_selector, :input::text::jsonb, :input_type_url, :input_data, :priority,
        :labels::text::jsonb, :options::text::jsonb, :cron, :interval_seconds, :time_zone, :missed_ticks,
        :while_paused, :paused, :source, :next_tick_at)
ON CONFLICT (name) DO NOTHING
RETURNING *;

-- name: schedule_declare
-- A schedule declared in code, by every replica at start: the definition follows the
-- code; its next tick is kept unless the timing changed; paused stays as set by hand.
-- A schedule of the same name created over the API is left alone (no row).
INSERT INTO jobsvc_schedules AS s
    (name, handler, version_selector, input, input_type_url, input_data, priority, labels, options,
     cron, interval_seconds, time_zone, missed_ticks, while_paused, paused, source, next_tick_at)
VALUES (:name, :handler, :version_selector, :input::text::jsonb, :input_type_url, :input_data, :priority,
        :labels::text::jsonb, :options::text::jsonb, :cron, :interval_seconds, :time_zone, :missed_ticks,
        :while_paused, :paused, :source, :next_tick_at)
ON CONFLICT (name) DO UPDATE SET
    handler = excluded.handler, version_selector = excluded.version_selector, input = excluded.input,
    input_type_url = excluded.input_type_url, input_data = excluded.input_data, priority = excluded.priority,
    labels = excluded.labels, options = excluded.options, cron = excluded.cron,
    interval_seconds = excluded.interval_seconds, time_zone = excluded.time_zone,
    missed_ticks = excluded.missed_ticks, while_paused = excluded.while_paused,
    next_tick_at = CASE WHEN (s.cron, s.interval_seconds, s.time_zone)
                             IS DISTINCT FROM (excluded.cron, excluded.interval_seconds, excluded.time_zone)
                        THEN excluded.next_tick_at ELSE s.next_tick_at END,
    updated_at = now()
WHERE s.source = 'code'
RETURNING *;

-- name: schedule_get
SELECT * FROM jobsvc_schedules WHERE name = :name;

-- name: schedule_list
SELECT * FROM jobsvc_schedules ORDER BY name;

-- name: schedule_set_paused
-- Pause, or resume from the next tick after now (:next_tick_at): ticks while paused never run.
UPDATE jobsvc_schedules SET paused = :paused, next_tick_at = coalesce(:next_tick_at, next_tick_at), updated_at = now()
WHERE name = :name
RETURNING *;

-- name: schedule_delete
DELETE FROM jobsvc_schedules WHERE name = :name RETURNING name;

-- name: schedule_due
-- Unpaused schedules whose next tick is at or before :now: the scheduler's clock, which
-- its caller always passes (so tests own it already).
SELECT * FROM jobsvc_schedules WHERE NOT paused AND next_tick_at <= :now ORDER BY next_tick_at LIMIT :limit;

-- name: schedule_next_tick
SELECT min(next_tick_at) AS next_tick_at FROM jobsvc_schedules WHERE NOT paused;

-- name: schedule_advance
-- Moves a schedule past a tick, only from the tick it was at (:from_tick): of replicas
-- racing on one tick, one moves it and the others change nothing.
UPDATE jobsvc_schedules SET
    next_tick_at = :next_tick_at, last_tick_at = coalesce(:tick, last_tick_at), last_job_id = coalesce(:job_id, last_job_id)
WHERE name = :name AND next_tick_at = :from_tick AND NOT paused
RETURNING name;

-- name: job_stats_by_version
-- The dashboard's overview (StatsService.GetQueueStats). Each part bounded by its own index
-- (queued: jobsvc_jobs_queued_by_version_idx; running: jobsvc_jobs_leased_idx, every running job
-- holds a lease), so the cost follows the jobs active now, never the size of the history.
-- Finished within the window (counted in whole minutes: from the start of the minute the
-- window reaches into): the minutes before the roll-up's watermark :through (read first,
-- by job_finished_watermark) from jobsvc_finished_minutes (a row per minute and version,
-- whatever the traffic; the minute holding the watermark counted up to it), and only the
-- jobs finished since it (the last few seconds) through jobsvc_jobs_finished_idx. The
-- watermark is a parameter, not a join, so that the planner sees how few jobs that is (a
-- join made it guess a third of the table, and plan, and JIT-compile, for that). Both
-- statements run in one REPEATABLE READ snapshot: a roll-up committed in between would
-- otherwise count its jobs twice.
-- The queued jobs are counted by wait reason as job_get's waiting_kind says it: per row
-- only what the row holds and a primary-key probe of its concurrency or rate key (when
-- it has one); "no worker" is per version, so it is asked once per group, and then
-- holds for every due job of the version (it comes first in job_get's order too).
WITH recent AS (
    SELECT handler, version, state, run_at, false AS finished,
           CASE
               WHEN run_at > now() THEN CASE WHEN attempt > 0 THEN 'retry_backoff' ELSE 'scheduled' END
               WHEN concurrency_key IS NOT NULL AND EXISTS (SELECT 1 FROM jobsvc_concurrency c
                       WHERE c.key = concurrency_key AND c.running >= concurrency_limit)
                   THEN 'concurrency_limit'
               WHEN rate_key IS NOT NULL AND EXISTS (SELECT 1 FROM jobsvc_rate_windows w
                       WHERE w.key = rate_key AND w.blocked_until > now())
                   THEN 'rate_limit'
               ELSE ''
           END AS waiting_kind
    FROM jobsvc_jobs
    WHERE state = 'queued'
    UNION ALL
    SELECT handler, version, state, run_at, false, ''
    FROM jobsvc_jobs
    WHERE lease_expires_at IS NOT NULL AND state = 'running'
    UNION ALL
    SELECT handler, version, state, run_at, true, ''
    FROM jobsvc_jobs
    WHERE finished_at IS NOT NULL
      AND finished_at >= greatest(:through::timestamptz, date_trunc('minute', now() - make_interval(secs => :window_seconds)))
), rolled_up AS (
    SELECT handler, version, sum(succeeded)::bigint AS succeeded, sum(failed)::bigint AS failed,
           sum(cancelled)::bigint AS cancelled
    FROM jobsvc_finished_minutes
    WHERE minute >= date_trunc('minute', now() - make_interval(secs => :window_seconds)) AND minute < :through::timestamptz
    GROUP BY 1, 2
), counted AS (
    SELECT handler, version,
           count(*) FILTER (WHERE NOT finished AND state = 'queued' AND run_at <= now()) AS queued,
           count(*) FILTER (WHERE NOT finished AND state = 'queued' AND run_at > now()) AS scheduled,
           count(*) FILTER (WHERE NOT finished AND state = 'running') AS running,
           count(*) FILTER (WHERE finished AND state = 'succeeded') AS succeeded,
           count(*) FILTER (WHERE finished AND state = 'failed') AS failed,
           count(*) FILTER (WHERE finished AND state = 'cancelled') AS cancelled,
           coalesce(extract(epoch FROM now() - min(run_at) FILTER (
               WHERE NOT finished AND state = 'queued' AND run_at <= now())), 0)::float8 AS oldest_queued_age,
           count(*) FILTER (WHERE waiting_kind = 'scheduled') AS wait_scheduled,
           count(*) FILTER (WHERE waiting_kind = 'retry_backoff') AS wait_retry_backoff,
           count(*) FILTER (WHERE waiting_kind = 'concurrency_limit') AS wait_concurrency_limit,
           count(*) FILTER (WHERE waiting_kind = 'rate_limit') AS wait_rate_limit
    FROM recent
    GROUP BY handler, version
), merged AS (
    SELECT handler, version,
           coalesce(c.queued, 0) AS queued, coalesce(c.scheduled, 0) AS scheduled, coalesce(c.running, 0) AS running,
           coalesce(c.succeeded, 0) + coalesce(u.succeeded, 0) AS succeeded,
           coalesce(c.failed, 0) + coalesce(u.failed, 0) AS failed,
           coalesce(c.cancelled, 0) + coalesce(u.cancelled, 0) AS cancelled,
           coalesce(c.oldest_queued_age, 0) AS oldest_queued_age,
           coalesce(c.wait_scheduled, 0) AS wait_scheduled, coalesce(c.wait_retry_backoff, 0) AS wait_retry_backoff,
           coalesce(c.wait_concurrency_limit, 0) AS wait_concurrency_limit,
           coalesce(c.wait_rate_limit, 0) AS wait_rate_limit
    FROM counted c FULL JOIN rolled_up u USING (handler, version)
)
SELECT m.*,
       m.queued > 0 AND NOT EXISTS (SELECT 1 FROM jobsvc_handlers h
           WHERE h.name = m.handler AND h.version = m.version
             AND h.last_seen_at > now() - interval '30 seconds') AS no_worker
FROM merged m
ORDER BY handler, version;

-- name: job_finished_timeline
-- Jobs finished within the window in buckets of :bucket_seconds (a whole number of
-- minutes), by outcome (the overview's chart): as job_stats_by_version, the minutes before
-- the roll-up's watermark :through from jobsvc_finished_minutes, the jobs finished since it
-- through jobsvc_jobs_finished_idx.
WITH minutes AS (
    SELECT minute AS at, succeeded, failed, cancelled
    FROM jobsvc_finished_minutes
    WHERE minute >= date_trunc('minute', now() - make_interval(secs => :window_seconds)) AND minute < :through::timestamptz
    UNION ALL
    SELECT finished_at, (state = 'succeeded')::int, (state = 'failed')::int, (state = 'cancelled')::int
    FROM jobsvc_jobs
    WHERE finished_at IS NOT NULL
      AND finished_at >= greatest(:through::timestamptz, date_trunc('minute', now() - make_interval(secs => :window_seconds)))
)
SELECT to_timestamp(floor(extract(epoch FROM at) / :bucket_seconds) * :bucket_seconds) AS bucket_start,
       sum(succeeded)::bigint AS succeeded, sum(failed)::bigint AS failed, sum(cancelled)::bigint AS cancelled
FROM minutes
GROUP BY 1
ORDER BY 1;

-- name: job_open_transactions_since
-- When the oldest client transaction still open on this database began (now() when none
-- is, or none is older than :stall_seconds: one left open by hand must not stop the
-- roll-up). Only client backends: autovacuum's transactions (minutes, on a big table)
-- finish no job.
-- A job such a transaction finishes gets finished_at = its start (now() is the
-- transaction's time) but becomes visible only at its commit, so job_finished_rollup
-- (run after this, in a newer snapshot) stops short of it and counts it on a later run.
SELECT least(now(), min(xact_start)) AS since
FROM pg_stat_activity
WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()
  AND xact_start IS NOT NULL
  AND xact_start > now() - make_interval(secs => :stall_seconds);

-- name: job_finished_watermark
-- The roll-up's watermark: every job finished before it is counted in jobsvc_finished_minutes
-- (and none after it).
SELECT through FROM jobsvc_finished_rollup;

-- name: job_finished_rollup_mark
-- The first step of a roll-up (job_finished_rollup_add is the second, in one transaction):
-- lock the watermark (SKIP LOCKED: replicas rolling up at once do it once; no row when
-- another one is at it) and say how far this run goes: up to :open_since (see
-- job_open_transactions_since) and now() - :lag_seconds, whichever is earlier, and at
-- most :max_minutes past the first job finished since the watermark (a long backlog is
-- rolled up over several runs; a stretch where nothing finished is skipped at once). The
-- watermark need not be a whole minute: the minute holding it is counted in part, and
-- the next run adds the rest to the same row.
SELECT r.through AS since,
       greatest(r.through, least(
           least(:open_since::timestamptz, now() - make_interval(secs => :lag_seconds)),
           date_trunc('minute', (SELECT min(j.finished_at) FROM jobsvc_jobs j
                                 WHERE j.finished_at IS NOT NULL AND j.finished_at >= r.through))
               + make_interval(mins => :max_minutes))) AS until
FROM jobsvc_finished_rollup r
FOR UPDATE SKIP LOCKED;

-- name: job_finished_rollup_add
-- Count the jobs finished in [:since, :until) into their minutes (through
-- jobsvc_jobs_finished_idx: only those jobs are read), move the watermark to :until, and
-- delete the minutes older than :keep_seconds. Run holding job_finished_rollup_mark's lock.
WITH counted AS (
    SELECT date_trunc('minute', finished_at) AS minute, handler, version,
           count(*) FILTER (WHERE state = 'succeeded') AS succeeded,
           count(*) FILTER (WHERE state = 'failed') AS failed,
           count(*) FILTER (WHERE state = 'cancelled') AS cancelled
    FROM jobsvc_jobs
    WHERE finished_at IS NOT NULL AND finished_at >= :since::timestamptz AND finished_at < :until::timestamptz
    GROUP BY 1, 2, 3
), added AS (
    INSERT INTO jobsvc_finished_minutes AS f (minute, handler, version, succeeded, failed, cancelled)
    SELECT minute, handler, version, succeeded, failed, cancelled FROM counted
    ON CONFLICT (minute, handler, version) DO UPDATE SET
        succeeded = f.succeeded + excluded.succeeded,
        failed = f.failed + excluded.failed,
        cancelled = f.cancelled + excluded.cancelled
), pruned AS (
    DELETE FROM jobsvc_finished_minutes WHERE minute < now() - make_interval(secs => :keep_seconds)
)
UPDATE jobsvc_finished_rollup SET through = :until::timestamptz;

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

-- name: job_queue_depth_by_label
-- For each label name of :names, due queued jobs per value of that label: the
-- :max_values most queued values one by one, the rest summed under value NULL. Jobs
-- without the label are not counted. Run with job_queue_stats, on scrape only.
WITH counted AS (
    SELECT l.name, j.labels ->> l.name AS value, count(*) AS due
    FROM jobsvc_jobs j, unnest(:names::text[]) AS l(name)
    WHERE j.state = 'queued' AND j.run_at <= now() AND j.labels ? l.name
    GROUP BY 1, 2
), ranked AS (
    SELECT name, value, due, row_number() OVER (PARTITION BY name ORDER BY due DESC, value) AS rank
    FROM counted
)
SELECT name, CASE WHEN rank <= :max_values::int THEN value END AS value, sum(due)::bigint AS due
FROM ranked
GROUP BY 1, 2;

-- name: pause_list
SELECT handler, version, flow_key, reason, paused_by, created_at FROM jobsvc_pauses
ORDER BY handler, version, flow_key;

-- name: pause_set
-- Pauses a handler (:version '' for every version), one version, or a flow-control key
-- (:handler and :version ''); pausing again keeps the first row. The NOTIFY (delivered at
-- commit) makes every replica re-read jobsvc_pauses at once.
WITH upserted AS (
    INSERT INTO jobsvc_pauses AS p (handler, version, flow_key, reason, paused_by)
    VALUES (:handler, :version, :flow_key, :reason, :paused_by)
    ON CONFLICT (handler, version, flow_key) DO UPDATE SET reason = p.reason
    RETURNING handler, version, flow_key, reason, paused_by, created_at
)
SELECT upserted.*, pg_notify('jobsvc_pauses', '') AS notified FROM upserted;

-- name: pause_clear
-- Resumes; no row when it was not paused. The NOTIFY as in pause_set.
WITH deleted AS (
    DELETE FROM jobsvc_pauses WHERE handler = :handler AND version = :version AND flow_key = :flow_key
    RETURNING handler, version, flow_key, reason, paused_by, created_at
)
SELECT deleted.*, pg_notify('jobsvc_pauses', '') AS notified FROM deleted;

-- name: operation_count
-- How many jobs a bulk action would act on now (its dry run, and `matched` at its start).
SELECT count(*) AS matched FROM (
    SELECT state, redriven, handler, version, labels, concurrency_key, rate_key, fairness_key, created_at
    FROM jobsvc_jobs
    UNION ALL
    -- Only a delete acts on finished jobs moved to the history.
    SELECT state, redriven, handler, version, labels, concurrency_key, rate_key, fairness_key, created_at
    FROM jobsvc_jobs_history WHERE :action = 'delete'
) j
WHERE jobsvc_job_selected(:filter::text::jsonb, :action, j.state, j.redriven, j.handler, j.version, j.labels,
                          j.concurrency_key, j.rate_key, j.fairness_key, j.created_at)
  AND j.created_at <= now();

-- name: operation_insert
-- A bulk action, running from now: its cursor starts after every job that exists.
INSERT INTO jobsvc_operations
    (id, action, filter, matched, max_jobs_per_second, created_by, cursor_created_at, cursor_id)
VALUES (:id, :action, :filter::text::jsonb, :matched, :max_jobs_per_second, :created_by, now(),
        'ffffffff-ffff-ffff-ffff-ffffffffffff')
RETURNING *;

-- name: operation_get
SELECT * FROM jobsvc_operations WHERE id = :id;

-- name: operation_list
SELECT * FROM jobsvc_operations ORDER BY created_at DESC LIMIT :limit;

-- name: operation_cancel
-- Stops a running operation after the batch in flight; a finished one stays as it is.
UPDATE jobsvc_operations SET state = 'cancelled', finished_at = now(), updated_at = now()
WHERE id = :id AND state = 'running'
RETURNING *;

-- name: operation_claim
-- The oldest running operation no live replica holds (never held, or its lease ran
-- out), now held by :owner for :lease_seconds.
UPDATE jobsvc_operations SET owner = :owner, lease_until = now() + make_interval(secs => :lease_seconds)
WHERE id = (
    SELECT id FROM jobsvc_operations
    WHERE state = 'running' AND (lease_until IS NULL OR lease_until < now())
    ORDER BY created_at
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
RETURNING *;

-- name: operation_batch
-- The next :limit jobs the operation acts on, newest first, after its cursor.
SELECT j.id, j.created_at FROM (
    SELECT id, state, redriven, handler, version, labels, concurrency_key, rate_key, fairness_key, created_at
    FROM jobsvc_jobs
    UNION ALL
    -- As operation_count: the history for a delete only.
    SELECT id, state, redriven, handler, version, labels, concurrency_key, rate_key, fairness_key, created_at
    FROM jobsvc_jobs_history WHERE :action = 'delete'
) j
WHERE jobsvc_job_selected(:filter::text::jsonb, :action, j.state, j.redriven, j.handler, j.version, j.labels,
                          j.concurrency_key, j.rate_key, j.fairness_key, j.created_at)
  AND (j.created_at, j.id) < (:cursor_created_at::timestamptz, :cursor_id::uuid)
ORDER BY j.created_at DESC, j.id DESC
LIMIT :limit;

-- name: operation_advance
-- Records a batch: :done more jobs processed, the cursor moved past them, the lease
-- extended; :finished ends it (succeeded). A batch that was in flight when the operation
-- was cancelled is counted too (the state stays cancelled: the caller stops). No row when
-- the operation is no longer :owner's (taken over after a lapsed lease): stop.
UPDATE jobsvc_operations SET
    processed = processed + :done,
    cursor_created_at = :cursor_created_at, cursor_id = :cursor_id::uuid,
    lease_until = now() + make_interval(secs => :lease_seconds),
    updated_at = now(),
    state = CASE WHEN :finished::boolean AND state = 'running' THEN 'succeeded' ELSE state END,
    finished_at = CASE WHEN :finished AND state = 'running' THEN now() ELSE finished_at END
WHERE id = :id AND owner = :owner AND (state = 'running' OR :done > 0)
RETURNING *;

-- name: job_cancel_many
-- Cancels the queued jobs (and waiting workflow steps) of :job_ids at once, with their
-- "cancelled" events, and asks the executors of the running ones to stop them, as
-- job_cancel_queued and job_cancel_running do one job at a time.
WITH queued AS (
    UPDATE jobsvc_jobs SET
        state = 'cancelled', finished_at = now(), cancel_reason = :reason, last_seq = last_seq + 1
    WHERE id = ANY(:job_ids::uuid[]) AND state IN ('queued', 'waiting')
    RETURNING id, last_seq
), queued_event AS (
    INSERT INTO jobsvc_job_events (job_id, seq, kind, data)
    SELECT id, last_seq, 'cancelled', jsonb_build_object('reason', :reason::text) FROM queued
), running AS (
    UPDATE jobsvc_jobs SET cancel_requested = true,
        cancel_reason = CASE WHEN cancel_requested THEN cancel_reason ELSE :reason END
    WHERE id = ANY(:job_ids) AND state = 'running'
    RETURNING id, pg_notify('jobsvc_cancel', id::text)
)
SELECT id, 'queued' AS was FROM queued
UNION ALL SELECT id, 'running' FROM running;

-- name: job_delete_many
-- Deletes the finished jobs of :job_ids and their events (as the reaper does), in
-- jobsvc_jobs or in the history.
WITH deleted AS (
    DELETE FROM jobsvc_jobs WHERE id = ANY(:job_ids::uuid[]) AND state IN ('succeeded', 'failed', 'cancelled')
    RETURNING id
), events AS (
    DELETE FROM jobsvc_job_events WHERE job_id IN (SELECT id FROM deleted)
), deleted_history AS (
    DELETE FROM jobsvc_jobs_history WHERE id = ANY(:job_ids::uuid[])
    RETURNING id, expires_at
), events_history AS (
    DELETE FROM jobsvc_job_events_history e USING deleted_history d
    WHERE e.job_id = d.id AND e.expires_at = d.expires_at
)
SELECT id FROM deleted UNION ALL SELECT id FROM deleted_history;
-- name: workflow_insert
-- Makes the jobs of a workflow (inserted by job_insert_many in the same transaction)
-- its steps: the workflow row, one step row per job with its parents to wait for, and
-- the jobs with parents moved out of the queue into 'waiting'.
WITH workflow AS (
    INSERT INTO jobsvc_workflows (id, name, labels, steps_total)
    VALUES (:workflow_id, :name, :labels::jsonb, cardinality(:job_ids::uuid[]))
    RETURNING id, created_at
), steps AS (
    INSERT INTO jobsvc_workflow_steps
        (job_id, workflow_id, position, name, depends_on, child_ids, pending, optional, inputs, map)
    SELECT t.job_id, :workflow_id, t.ord - 1, t.name,
           ARRAY(SELECT jsonb_array_elements_text(t.depends_on::jsonb)),
           ARRAY(SELECT jsonb_array_elements_text(t.child_ids::jsonb))::uuid[],
           jsonb_array_length(t.depends_on::jsonb), t.optional, t.inputs::jsonb, t.map::jsonb
    FROM unnest(:job_ids::uuid[], :names::text[], :depends_on::text[], :child_ids::text[], :optionals::boolean[],
                :inputs::text[], :maps::text[])
         WITH ORDINALITY AS t(job_id, name, depends_on, child_ids, optional, inputs, map, ord)
    RETURNING job_id, pending
), marked AS (
    UPDATE jobsvc_jobs j SET workflow_id = :workflow_id,
        state = CASE WHEN steps.pending > 0 THEN 'waiting' ELSE j.state END
    FROM steps WHERE j.id = steps.job_id
    RETURNING j.id
)
SELECT workflow.created_at, (SELECT count(*) FROM marked) AS steps FROM workflow;

-- name: workflow_get
-- A workflow and its steps' states (for the workflow's state), without the jobs.
SELECT w.id, w.name, w.labels, w.created_at, w.steps_total, w.cancel_reason,
       ARRAY(SELECT j.state FROM jobsvc_workflow_steps s JOIN jobsvc_jobs j ON j.id = s.job_id
             WHERE s.workflow_id = w.id ORDER BY s.position) AS states,
       ARRAY(SELECT s.optional FROM jobsvc_workflow_steps s
             WHERE s.workflow_id = w.id ORDER BY s.position) AS optionals,
       (SELECT max(j.finished_at) FROM jobsvc_workflow_steps s JOIN jobsvc_jobs j ON j.id = s.job_id
        WHERE s.workflow_id = w.id) AS finished_at
FROM jobsvc_workflows w
WHERE w.id = :workflow_id;

-- name: workflow_list
-- Newest first, keyset-paginated on (created_at, id), with their steps' states.
SELECT w.id, w.name, w.labels, w.created_at, w.steps_total, w.cancel_reason,
       ARRAY(SELECT j.state FROM jobsvc_workflow_steps s JOIN jobsvc_jobs j ON j.id = s.job_id
             WHERE s.workflow_id = w.id ORDER BY s.position) AS states,
       ARRAY(SELECT s.optional FROM jobsvc_workflow_steps s
             WHERE s.workflow_id = w.id ORDER BY s.position) AS optionals,
       (SELECT max(j.finished_at) FROM jobsvc_workflow_steps s JOIN jobsvc_jobs j ON j.id = s.job_id
        WHERE s.workflow_id = w.id) AS finished_at
FROM jobsvc_workflows w
WHERE :after_created::timestamptz IS NULL OR (w.created_at, w.id) < (:after_created, :after_id::uuid)
ORDER BY w.created_at DESC, w.id DESC
LIMIT :limit;

-- name: workflow_steps_get
-- The steps of a workflow in submit order, each with its job (:payloads as in job_get);
-- the elements of a mapped step follow it, in list order.
SELECT s.name AS step_name, s.depends_on, s.optional, s.map_of, s.item,
       j.id, j.handler, j.version_selector, j.version, j.state, j.priority,
       CASE WHEN :payloads::boolean THEN j.input END AS input,
       CASE WHEN :payloads::boolean THEN j.input_type_url END AS input_type_url,
       CASE WHEN :payloads::boolean THEN j.input_data END AS input_data,
       CASE WHEN :payloads::boolean THEN j.result END AS result,
       CASE WHEN :payloads::boolean THEN j.result_type_url END AS result_type_url,
       CASE WHEN :payloads::boolean THEN j.result_data END AS result_data,
       j.error, j.attempt, j.idempotency_key, j.labels, j.created_at, j.run_at, j.started_at, j.finished_at,
       j.cancel_requested, j.last_seq, j.progress_percent, j.progress_message, j.max_attempts, j.attempt_errors,
       j.cached_from, j.redrive_of, j.concurrency_key, j.concurrency_limit, j.rate_key, j.rate_limit,
       j.rate_period, j.fairness_key, j.trace_context
FROM jobsvc_workflow_steps s
JOIN jobsvc_jobs j ON j.id = s.job_id
WHERE s.workflow_id = :workflow_id
ORDER BY s.position, s.item NULLS FIRST;

-- name: workflow_cancel_running
-- Asks the executors of a workflow's running steps to stop them (as job_cancel_running),
-- in its own transaction before workflow_cancel_pending: it locks running jobs only, in
-- id order, as an outcome write does, and holds no step row meanwhile.
WITH running AS MATERIALIZED (
    SELECT j.id FROM jobsvc_workflow_steps s JOIN jobsvc_jobs j ON j.id = s.job_id
    WHERE s.workflow_id = :workflow_id AND j.state = 'running' AND NOT j.cancel_requested
    ORDER BY j.id
    FOR UPDATE OF j
)
UPDATE jobsvc_jobs j SET cancel_requested = true, cancel_reason = :reason
FROM running WHERE j.id = running.id
RETURNING j.id, pg_notify('jobsvc_cancel', j.id::text);

-- name: workflow_cancel_pending
-- Cancels a workflow's steps that have not started (waiting or queued) and records the
-- reason (the first one stays). The step rows are locked first, in id order, as an outcome
-- write locks them, so a parent finishing meanwhile either queued its dependant before
-- (and it is cancelled here) or finds it cancelled.
WITH workflow AS (
    UPDATE jobsvc_workflows SET cancel_reason = coalesce(cancel_reason, :reason)
    WHERE id = :workflow_id
    RETURNING id
), steps_locked AS MATERIALIZED (
    SELECT s.job_id FROM jobsvc_workflow_steps s
    WHERE s.workflow_id = (SELECT id FROM workflow)
    ORDER BY s.job_id
    FOR UPDATE OF s
), pending AS MATERIALIZED (
    SELECT j.id FROM jobsvc_jobs j
    WHERE j.id IN (SELECT job_id FROM steps_locked) AND j.state IN ('waiting', 'queued')
    ORDER BY j.id
    FOR UPDATE OF j
), cancelled AS (
    UPDATE jobsvc_jobs j SET
        state = 'cancelled', finished_at = now(), cancel_reason = :reason, last_seq = j.last_seq + 1
    FROM pending WHERE j.id = pending.id
    RETURNING j.id, j.last_seq
), cancelled_event AS (
    INSERT INTO jobsvc_job_events (job_id, seq, kind, data)
    SELECT id, last_seq, 'cancelled', jsonb_build_object('reason', :reason::text) FROM cancelled
)
SELECT id FROM cancelled;

-- name: workflow_events_lock
-- Taken before workflow_events_stamp, in its transaction: stampers of one workflow take
-- turns, and the stamping statement, which starts after the lock is held, sees what the
-- one before it stamped. Nothing else is locked meanwhile (no deadlock with writers).
SELECT events_stamped FROM jobsvc_workflows WHERE id = :workflow_id FOR UPDATE;

-- name: workflow_events_stamp
-- Numbers the step events of a workflow not numbered yet with the workflow's next
-- sequences and answers, from the same snapshot, the workflow's last sequence and its
-- steps not finished yet: when there are none, every event of the workflow is numbered.
-- Order: by time, a step's events by the running maximum of their times so that they
-- never cross; events of one transaction (one time) cause before effect: an outcome, then
-- the cancellations it caused, then the rest (the fan-out's queued elements), then by the
-- steps' submit order. Costs O(steps + numbered events) of this one workflow; only
-- StreamWorkflow pays it.
WITH steps AS MATERIALIZED (
    SELECT s.job_id, s.position, coalesce(s.item, -1) AS item, j.last_seq, j.state
    FROM jobsvc_workflow_steps s JOIN jobsvc_jobs j ON j.id = s.job_id
    WHERE s.workflow_id = :workflow_id
), seen AS (
    SELECT job_id, max(seq) AS seq FROM jobsvc_workflow_events
    WHERE workflow_id = :workflow_id GROUP BY job_id
), fresh AS (
    SELECT e.job_id, e.seq, steps.position, steps.item,
           max(e.time) OVER (PARTITION BY e.job_id ORDER BY e.seq) AS at,
           CASE WHEN e.kind IN ('succeeded', 'failed') THEN 0 WHEN e.kind = 'cancelled' THEN 1 ELSE 2 END AS rank
    FROM steps
    LEFT JOIN seen ON seen.job_id = steps.job_id
    JOIN jobsvc_job_events e ON e.job_id = steps.job_id AND e.seq > coalesce(seen.seq, 0)
    WHERE steps.last_seq > coalesce(seen.seq, 0)
), ranked AS (
    -- The least rank of a step's events at one time, so that they keep their order.
    SELECT job_id, seq, position, item, at, min(rank) OVER (PARTITION BY job_id, at) AS rank FROM fresh
), numbered AS MATERIALIZED (
    SELECT job_id, seq, row_number() OVER (ORDER BY at, rank, position, item, seq) AS n FROM ranked
), stamped AS (
    INSERT INTO jobsvc_workflow_events (workflow_id, wseq, job_id, seq)
    SELECT :workflow_id, w.events_stamped + n.n, n.job_id, n.seq
    FROM numbered n, jobsvc_workflows w WHERE w.id = :workflow_id
), head AS (
    UPDATE jobsvc_workflows SET events_stamped = events_stamped + (SELECT count(*) FROM numbered)
    WHERE id = :workflow_id
    RETURNING events_stamped
)
SELECT (SELECT events_stamped FROM head) AS last_seq,
       ARRAY(SELECT job_id FROM steps WHERE state IN ('waiting', 'queued', 'running')) AS unfinished;

-- name: workflow_event_list
-- Up to :limit numbered events of a workflow after :after_seq, in order, with their step.
SELECT w.wseq, s.name AS step_name,
       e.job_id, e.seq, e.kind, e.time, e.data, e.payload, e.payload_type_url, e.payload_data
FROM jobsvc_workflow_events w
JOIN jobsvc_job_events e ON e.job_id = w.job_id AND e.seq = w.seq
JOIN jobsvc_workflow_steps s ON s.job_id = w.job_id
WHERE w.workflow_id = :workflow_id AND w.wseq > :after_seq
ORDER BY w.wseq
LIMIT :limit;

-- name: workflow_step_redrive
-- Redrives step :step of workflow :workflow_id (see jobsvc_workflow_step_redrive, 0010).
-- One row: found (the workflow exists), cancelled (it was cancelled: nothing is redriven),
-- job_id (NULL: no such step), redriven (false: the step is not FAILED). An optional step
-- is not redriven: its dependants counted it off when it failed and ran with its error.
SELECT w.id IS NOT NULL AS found, w.cancel_reason IS NOT NULL AS cancelled, s.job_id, j.state, s.optional,
       CASE WHEN s.job_id IS NOT NULL AND w.cancel_reason IS NULL AND NOT s.optional
            THEN jobsvc_workflow_step_redrive(s.job_id, format('step %s redriven', s.name)) END AS redriven
FROM (SELECT 1) one
LEFT JOIN jobsvc_workflows w ON w.id = :workflow_id
LEFT JOIN jobsvc_workflow_steps s ON s.workflow_id = w.id AND s.name = :step
LEFT JOIN jobsvc_jobs j ON j.id = s.job_id;

-- name: worker_session_put
-- A worker session opened on replica :replica (WorkerDirectoryService.ListWorkers).
INSERT INTO jobsvc_worker_sessions (session_id, worker_id, handlers, capacity, replica)
VALUES (:session_id, :worker_id, :handlers::text[], :capacity, :replica)
ON CONFLICT (session_id) DO UPDATE SET refreshed_at = now();

-- name: worker_session_refresh
-- One replica's periodic refresh of its open sessions' in-flight counts, in one statement;
-- rows of any replica not refreshed within :stale_seconds (it died) are deleted.
WITH refreshed AS (
    UPDATE jobsvc_worker_sessions s SET in_flight = r.in_flight, refreshed_at = now()
    FROM unnest(:session_ids::text[], :in_flight::int[]) AS r(session_id, in_flight)
    WHERE s.session_id = r.session_id
    RETURNING s.session_id
)
DELETE FROM jobsvc_worker_sessions
WHERE refreshed_at < now() - make_interval(secs => :stale_seconds)
  AND session_id NOT IN (SELECT session_id FROM refreshed);

-- name: worker_session_delete
DELETE FROM jobsvc_worker_sessions WHERE session_id = :session_id;

-- name: worker_session_list
-- The sessions connected to any replica, without those whose replica stopped refreshing them.
SELECT session_id, worker_id, handlers, capacity, in_flight, replica, connected_at, refreshed_at
FROM jobsvc_worker_sessions
WHERE refreshed_at >= now() - make_interval(secs => :stale_seconds)
ORDER BY worker_id, connected_at, session_id;
