-- StreamWorkflow's per-workflow counter: the last number given to a step event.
ALTER TABLE jobsvc_workflows ADD COLUMN events_stamped integer NOT NULL DEFAULT 0;

-- StreamWorkflow: every step's events in one gap-free, resumable sequence per workflow.
--
-- The writers (claims, outcomes, the readiness trigger) are left as they are: a step's
-- events keep their per-job sequence in jobsvc_job_events and nothing on the hot path
-- takes a per-workflow lock. The workflow's sequence is assigned by its readers instead:
-- a stream "stamps" the step events it has not seen yet, under the workflow row's lock,
-- with the next numbers of the workflow's counter (events_stamped), in one statement
-- whose snapshot also says whether the workflow has finished. The numbering is stored, so
-- every reader, on any replica, sees the same order and a reconnecting client resumes
-- from the number it last saw: no gap (numbers are given out consecutively, under the
-- lock) and no double (an event is stamped once: (job_id, seq) is unique).
CREATE TABLE jobsvc_workflow_events (
    workflow_id uuid    NOT NULL REFERENCES jobsvc_workflows (id) ON DELETE CASCADE,
    wseq        integer NOT NULL,
    job_id      uuid    NOT NULL,
    seq         integer NOT NULL,
    CONSTRAINT jobsvc_workflow_events_pkey PRIMARY KEY (workflow_id, wseq),
    CONSTRAINT jobsvc_workflow_events_event_key UNIQUE (job_id, seq)
);

-- Redrive of a failed step (WorkflowService.RedriveWorkflowStep): the step's own job goes
-- back to the queue (the same job: its id is what its dependants' inputs and the fan-in
-- refer to), and the dependants its failure cancelled come back to waiting, all the way
-- down, in the one transaction. Their pending counters were left as they were by the
-- failure (a failed required parent counts nothing off), so each still waits for exactly
-- the parents that have not finished, and the join rule (the decrement that reaches zero
-- queues the step) holds unchanged: exactly once.
--
-- A dependant comes back only if the failure policy cancelled it (its cancel_reason is
-- `step PARENT failed` or `step PARENT cancelled`, naming the first parent that stopped
-- it) and no required parent of it other than this step is failed or cancelled now:
-- otherwise it would wait for a parent that never finishes. It comes back with the
-- redrive of the last of them.
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

-- Redrive one FAILED step of a workflow that was not cancelled: false when the step is
-- not FAILED. The step gets a fresh attempt budget (as many attempts again), its cancelled
-- dependants come back (jobsvc_workflow_step_revive), then it is made ready again as when
-- its last parent finished: its input is resolved again from its parents' results (the
-- same values), a mapped step expands, and a step whose input still cannot be resolved
-- fails again at once.
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
