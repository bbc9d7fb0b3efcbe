-- Delivery contract: retry policies, timeouts, attempt history, result cache, redrive
-- and retention; and jobsvc_fail_attempt, the one place an attempt fails.

ALTER TABLE jobsvc_handlers
    ADD COLUMN retry_policy    jsonb,
    ADD COLUMN attempt_timeout double precision,
    ADD COLUMN cache_ttl       double precision,
    ADD COLUMN retention       double precision;

ALTER TABLE jobsvc_jobs
    -- The effective retry policy (handler's, overridden per job), kept on the job so
    -- that every replica and worker applies the same one.
    ADD COLUMN max_attempts              integer          NOT NULL DEFAULT 3,
    ADD COLUMN retry_initial_interval    double precision NOT NULL DEFAULT 1,
    ADD COLUMN retry_backoff_coefficient double precision NOT NULL DEFAULT 2,
    ADD COLUMN retry_maximum_interval    double precision NOT NULL DEFAULT 300,
    ADD COLUMN non_retryable_error_types text[]           NOT NULL DEFAULT '{}',
    ADD COLUMN attempt_timeout           double precision,
    -- Ends the running attempt: the lease never extends past it.
    ADD COLUMN attempt_deadline          timestamptz,
    -- From execution_timeout: the job fails if not done by then.
    ADD COLUMN deadline_at               timestamptz,
    -- From schedule_to_start_timeout: a queued job fails if not started by then.
    ADD COLUMN start_deadline_at         timestamptz,
    ADD COLUMN attempt_errors            jsonb            NOT NULL DEFAULT '[]',
    ADD COLUMN input_hash                text,
    ADD COLUMN cached_from               uuid,
    ADD COLUMN redrive_of                uuid,
    ADD COLUMN redriven                  boolean          NOT NULL DEFAULT false,
    ADD COLUMN retention                 double precision NOT NULL DEFAULT 604800;

CREATE INDEX jobsvc_jobs_cache_idx ON jobsvc_jobs (handler, version, input_hash, finished_at DESC)
    WHERE state = 'succeeded' AND input_hash IS NOT NULL;
CREATE INDEX jobsvc_jobs_finished_idx ON jobsvc_jobs (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX jobsvc_jobs_deadline_idx ON jobsvc_jobs (deadline_at)
    WHERE deadline_at IS NOT NULL AND state IN ('queued', 'running');
CREATE INDEX jobsvc_jobs_start_deadline_idx ON jobsvc_jobs (start_deadline_at)
    WHERE start_deadline_at IS NOT NULL AND state = 'queued';
CREATE INDEX jobsvc_jobs_dead_idx ON jobsvc_jobs (handler, finished_at) WHERE state = 'failed' AND NOT redriven;

-- Fails the attempt holding p_token: the job is queued again after the policy's
-- backoff (or p_retry_delay), or, when it may not be retried (non-retryable,
-- attempts used up, past its deadline), it FAILED. Logs "retrying" or "failed" and
-- returns the new state; no row when the token is stale. (The caller notifies
-- waiters after commit.)
CREATE FUNCTION jobsvc_fail_attempt(
    p_id uuid, p_token uuid, p_error jsonb, p_retry_delay double precision, p_non_retryable boolean
) RETURNS TABLE (new_state text, next_run_at timestamptz, event_seq integer)
LANGUAGE plpgsql AS $$
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
    v_delay := coalesce(p_retry_delay, least(
        j.retry_initial_interval * power(j.retry_backoff_coefficient, greatest(j.attempt - 1, 0)),
        j.retry_maximum_interval) * (0.8 + random() * 0.4));
    IF NOT p_non_retryable
       AND NOT coalesce((p_error ->> 'non_retryable')::boolean, false)
       AND j.attempt < j.max_attempts
       AND NOT (coalesce(p_error ->> 'type', '') = ANY (j.non_retryable_error_types))
       AND (j.deadline_at IS NULL OR now() + make_interval(secs => v_delay) < j.deadline_at)
    THEN
        UPDATE jobsvc_jobs SET
            state = 'queued', run_at = now() + make_interval(secs => v_delay),
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
$$;
