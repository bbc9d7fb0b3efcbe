-- The backoff before a retry can no longer fail the attempt's settlement.
--
-- jobsvc_fail_attempt computed least(initial * power(coefficient, attempt - 1), maximum):
-- power() overflowed a double, which PostgreSQL raises as an error, before least() could
-- cap it. A retry policy with a backoff coefficient of 1e300 (accepted, as any coefficient
-- of at least 1) made the third failure of each of its jobs an error: the worker's Nack
-- answered INTERNAL, and lease rescue, which fails expired attempts oldest first in one
-- statement, stopped at that job for every job. A coefficient of 10 did the same at the
-- 309th attempt.

-- initial * coefficient^(attempt - 1), at most maximum, computed in logarithms: no
-- intermediate value overflows or underflows, whatever the stored policy.
CREATE FUNCTION jobsvc_backoff(
    p_initial double precision, p_coefficient double precision, p_maximum double precision, p_attempt integer
) RETURNS double precision
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN p_initial <= 0 OR p_coefficient <= 0 OR p_maximum <= 0 THEN greatest(least(p_initial, p_maximum), 0)
        WHEN b.log_delay >= ln(p_maximum) THEN p_maximum
        WHEN b.log_delay < -700 THEN 0
        ELSE exp(b.log_delay)
    END
    FROM (SELECT ln(p_initial) + greatest(p_attempt - 1, 0) * ln(p_coefficient) AS log_delay) AS b
$$;

-- As in 0003, with the backoff computed by jobsvc_backoff.
CREATE OR REPLACE FUNCTION jobsvc_fail_attempt(
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
$$;
