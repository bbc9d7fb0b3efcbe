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
    CONSTRAINT jobsvc_workflow_steps_pkey PRIMARY KEY (job_id),
    CONSTRAINT jobsvc_workflow_steps_pending_check CHECK (pending >= 0)
);

CREATE UNIQUE INDEX jobsvc_workflow_steps_position_idx ON jobsvc_workflow_steps (workflow_id, position);

CREATE FUNCTION jobsvc_workflow_step_ready(p_job_id uuid, p_inputs jsonb)
 RETURNS void
 LANGUAGE plpgsql
AS $function$
DECLARE
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
    v_input := j.input;
    FOR item IN SELECT value FROM jsonb_array_elements(p_inputs) LOOP
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
    IF v_problem IS NOT NULL THEN
        -- The step fails, not the statement that finished its parent: its own trigger
        -- then applies the failure policy to its dependants.
        UPDATE jobsvc_jobs SET
            state = 'failed', finished_at = now(), last_seq = last_seq + 1,
            error = jsonb_build_object('type', 'jobsvc.WorkflowInputMissing', 'message', v_problem,
                                       'traceback', '', 'attempt', 0, 'non_retryable', true)
        WHERE id = p_job_id;
        INSERT INTO jobsvc_job_events (job_id, seq, kind, data)
        SELECT id, last_seq, 'failed', jsonb_build_object('error', error) FROM jobsvc_jobs WHERE id = p_job_id;
        PERFORM pg_notify('jobsvc_events', p_job_id::text);
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
            RETURNING s.job_id, s.pending, s.inputs
        LOOP
            IF v_child.pending = 0 THEN
                PERFORM jobsvc_workflow_step_ready(v_child.job_id, v_child.inputs);
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
