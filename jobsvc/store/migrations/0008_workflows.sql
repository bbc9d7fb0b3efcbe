-- Workflows: jobs chained into a directed acyclic graph of named steps.
--
-- Every step is a job row from the start (so Get, List, Stream, cancel and the dispatch
-- engine treat it as any job), marked with its workflow_id. A step with parents waits in
-- state 'waiting', outside the queued index, with a counter of parents not finished yet
-- (jobsvc_workflow_steps.pending). Readiness is decided by PostgreSQL in the transaction
-- that gives a parent its terminal state, whichever statement does it (an outcome, a
-- failed last attempt, lease rescue, a deadline, a cancel): the trigger
-- jobsvc_jobs_workflow_step counts the parent off each dependant under the dependant's
-- row lock, and the one decrement that reaches zero (there is exactly one: the counter
-- is read and written under that lock, after every earlier decrement committed) queues
-- the dependant with its input resolved from its parents' results. A plain job pays
-- nothing: the trigger's WHEN clause (workflow_id IS NOT NULL) is false for it, so no
-- trigger runs.

ALTER TABLE jobsvc_jobs ADD COLUMN workflow_id uuid;

ALTER TABLE jobsvc_jobs DROP CONSTRAINT jobsvc_jobs_state_check;
ALTER TABLE jobsvc_jobs ADD CONSTRAINT jobsvc_jobs_state_check
    CHECK (state = ANY (ARRAY['queued'::text, 'running'::text, 'succeeded'::text, 'failed'::text,
                              'cancelled'::text, 'waiting'::text]));

CREATE TABLE jobsvc_workflows (
    id            uuid        NOT NULL,
    name          text        NOT NULL DEFAULT '',
    labels        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    steps_total   integer     NOT NULL,
    cancel_reason text,
    CONSTRAINT jobsvc_workflows_pkey PRIMARY KEY (id)
);

CREATE INDEX jobsvc_workflows_created_idx ON jobsvc_workflows (created_at DESC, id DESC);

CREATE TABLE jobsvc_workflow_steps (
    job_id      uuid    NOT NULL,
    workflow_id uuid    NOT NULL,
    position    integer NOT NULL,
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
    CONSTRAINT jobsvc_workflow_steps_pkey PRIMARY KEY (job_id),
    CONSTRAINT jobsvc_workflow_steps_pending_check CHECK (pending >= 0)
);

CREATE UNIQUE INDEX jobsvc_workflow_steps_position_idx ON jobsvc_workflow_steps (workflow_id, position, coalesce(item, -1));

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

-- The WHEN clause keeps plain jobs free of it: for them no trigger runs at all.
CREATE TRIGGER jobsvc_jobs_workflow_step AFTER UPDATE OF state ON jobsvc_jobs
    FOR EACH ROW
    WHEN (NEW.workflow_id IS NOT NULL
          AND OLD.state = ANY (ARRAY['waiting'::text, 'queued'::text, 'running'::text])
          AND NEW.state = ANY (ARRAY['succeeded'::text, 'failed'::text, 'cancelled'::text]))
    EXECUTE FUNCTION jobsvc_workflow_step_finished();

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

CREATE TRIGGER jobsvc_jobs_workflow_step_reaped AFTER DELETE ON jobsvc_jobs
    FOR EACH ROW
    WHEN (OLD.workflow_id IS NOT NULL)
    EXECUTE FUNCTION jobsvc_workflow_step_reaped();
