-- Everyday operations (issue 16): submitting a job from the application's own SQL
-- transaction (jobsvc_submit), and an index for ListJobs' label filters.

-- The newest release (no prerelease part) of a handler among the registered versions,
-- ordered as semver orders them (numerically by major, minor, patch): what the server
-- resolves an empty or "latest" selector to. NULL when the handler has no release.
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

-- Submit a job from inside the caller's own transaction: the job (and its "queued"
-- event) exists only if that transaction commits, and the NOTIFY that wakes the claim
-- loops of every replica is delivered by PostgreSQL at that commit, not before.
--
-- It checks what PostgreSQL can: the handler and version are registered (an exact
-- version, or '', 'latest', '*' for the newest release; other selectors are refused,
-- since resolving npm-style ranges belongs to the server), the handler takes JSON, the
-- labels are an object of strings, the priority and max_attempts are in range. The job
-- gets the version's retry policy, attempt timeout and retention as a gRPC Submit would.
-- It does not check the input against the version's JSON schema (PostgreSQL has no JSON
-- Schema validator), and refuses handlers with flow control (their keys are rendered by
-- the server). An idempotency key already used returns that job's id when handler and
-- input are equal, and raises unique_violation otherwise.
--
-- Errors carry SQLSTATEs an application can branch on: no_data_found (P0002) for an
-- unknown handler or version, invalid_parameter_value (22023) for bad arguments,
-- feature_not_supported (0A000) for what only gRPC can submit, unique_violation (23505).
CREATE FUNCTION jobsvc_submit(
    handler text,
    input jsonb DEFAULT 'null'::jsonb,
    version text DEFAULT '',
    priority integer DEFAULT 0,
    labels jsonb DEFAULT '{}'::jsonb,
    run_at timestamptz DEFAULT NULL,
    idempotency_key text DEFAULT NULL,
    max_attempts integer DEFAULT NULL
)
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
    IF v_handler.flow_control IS NOT NULL AND v_handler.flow_control <> '{}'::jsonb THEN
        RAISE EXCEPTION 'jobsvc_submit: %@% has flow control keys, rendered by the server; submit it over gRPC',
            v_handler.name, v_handler.version USING ERRCODE = 'feature_not_supported';
    END IF;
    IF jsonb_typeof(v_labels) <> 'object'
       OR EXISTS (SELECT 1 FROM jsonb_each(v_labels) l WHERE jsonb_typeof(l.value) <> 'string') THEN
        RAISE EXCEPTION 'jobsvc_submit: labels must be a JSON object of strings' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF jobsvc_submit.max_attempts IS NOT NULL AND jobsvc_submit.max_attempts < 1 THEN
        RAISE EXCEPTION 'jobsvc_submit: max_attempts must be at least 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;

    v_policy := coalesce(v_handler.retry_policy, '{}'::jsonb);
    INSERT INTO jobsvc_jobs
        (id, handler, version_selector, version, state, priority, input, idempotency_key, labels,
         run_at, order_at, last_seq, max_attempts, retry_initial_interval, retry_backoff_coefficient,
         retry_maximum_interval, non_retryable_error_types, attempt_timeout, retention)
    VALUES
        (v_id, v_handler.name, v_selector, v_handler.version, 'queued', coalesce(jobsvc_submit.priority, 0),
         v_input, jobsvc_submit.idempotency_key, v_labels, v_due, v_due, 1,
         -- The defaults are those of DEFAULT_RETRY_POLICY and DEFAULT_RETENTION_SECONDS.
         coalesce(jobsvc_submit.max_attempts, (v_policy ->> 'maximum_attempts')::integer, 3),
         coalesce((v_policy ->> 'initial_interval')::double precision, 1),
         coalesce((v_policy ->> 'backoff_coefficient')::double precision, 2),
         coalesce((v_policy ->> 'maximum_interval')::double precision, 300),
         coalesce(ARRAY(SELECT jsonb_array_elements_text(v_policy -> 'non_retryable_error_types')), '{}'),
         v_handler.attempt_timeout,
         coalesce(v_handler.retention, 604800))
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

-- ListJobs' label filters (labels @> '{"tenant": "acme"}'). Partial, so that jobs
-- without labels (most of them, on the hot path) cost this index nothing; the filter
-- query repeats the condition so the planner may use it.
CREATE INDEX jobsvc_jobs_labels_idx ON jobsvc_jobs USING gin (labels jsonb_path_ops)
    WHERE labels <> '{}'::jsonb;

-- Pauses: of a handler (version '' for every version of it) or one version, or of a
-- flow-control key (handler and version '', flow_key the rendered concurrency, rate or
-- fairness key, a tenant's say). Their queued jobs stay queued; running ones finish. Each
-- replica keeps this table in memory (re-read on a NOTIFY on jobsvc_pauses, sent by the
-- statements that change it, and every second): its claim loops leave paused versions
-- out of their claims, and pass the paused keys to the claim only while there are any,
-- so that nothing paused costs the claim nothing.
CREATE TABLE jobsvc_pauses (
    handler    text        NOT NULL DEFAULT '',
    version    text        NOT NULL DEFAULT '',
    flow_key   text        NOT NULL DEFAULT '',
    reason     text        NOT NULL DEFAULT '',
    paused_by  text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT jobsvc_pauses_pkey PRIMARY KEY (handler, version, flow_key),
    CONSTRAINT jobsvc_pauses_target_check CHECK ((handler = '') <> (flow_key = ''))
);

-- Bulk actions (cancel, redrive, delete the jobs a filter selects) run as background
-- operations: one row each, run by one replica at a time (owner, lease_until: a replica
-- that dies leaves it to another after the lease), in batches along the jobs' creation
-- order (newest first, from the operation's start: jobs created later are not touched)
-- with the cursor and the count of jobs processed saved after each batch.
CREATE TABLE jobsvc_operations (
    id                uuid             NOT NULL,
    action            text             NOT NULL,
    -- The job filter, as jobsvc_job_selected reads it.
    filter            jsonb            NOT NULL,
    state             text             NOT NULL DEFAULT 'running',
    -- Jobs that matched when it started, and jobs acted on since.
    matched           bigint           NOT NULL,
    processed         bigint           NOT NULL DEFAULT 0,
    max_jobs_per_second double precision NOT NULL,
    -- The name of the token that started it ('' while authentication is off).
    created_by        text             NOT NULL DEFAULT '',
    created_at        timestamptz      NOT NULL DEFAULT now(),
    updated_at        timestamptz      NOT NULL DEFAULT now(),
    finished_at       timestamptz,
    cursor_created_at timestamptz      NOT NULL,
    cursor_id         uuid             NOT NULL,
    owner             text,
    lease_until       timestamptz,
    CONSTRAINT jobsvc_operations_pkey PRIMARY KEY (id),
    CONSTRAINT jobsvc_operations_action_check CHECK (action = ANY (ARRAY['cancel', 'redrive', 'delete'])),
    CONSTRAINT jobsvc_operations_state_check CHECK (state = ANY (ARRAY['running', 'succeeded', 'cancelled']))
);

-- Whether a job is selected by a bulk action's filter (states, handler, version, labels,
-- flow_key, created_after, created_before: each optional, all must hold) and is one the
-- action applies to. The one definition of both, for the dry-run count and every batch.
CREATE FUNCTION jobsvc_job_selected(j jobsvc_jobs, f jsonb, action text)
 RETURNS boolean
 LANGUAGE sql
 STABLE
AS $function$
    SELECT coalesce(
        CASE action
            WHEN 'cancel' THEN j.state IN ('queued', 'waiting', 'running')
            WHEN 'redrive' THEN j.state = 'failed' AND NOT j.redriven
            WHEN 'delete' THEN j.state IN ('succeeded', 'failed', 'cancelled')
        END
        AND (f -> 'states' IS NULL OR j.state IN (SELECT jsonb_array_elements_text(f -> 'states')))
        AND (f ->> 'handler' IS NULL OR j.handler = f ->> 'handler')
        AND (f ->> 'version' IS NULL OR j.version = f ->> 'version')
        AND (f -> 'labels' IS NULL OR j.labels @> (f -> 'labels'))
        AND (f ->> 'flow_key' IS NULL OR f ->> 'flow_key' IN (j.concurrency_key, j.rate_key, j.fairness_key))
        AND (f ->> 'created_after' IS NULL OR j.created_at >= (f ->> 'created_after')::timestamptz)
        AND (f ->> 'created_before' IS NULL OR j.created_at < (f ->> 'created_before')::timestamptz),
        false)
$function$;
