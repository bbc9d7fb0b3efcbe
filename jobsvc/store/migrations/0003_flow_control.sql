-- Flow control: concurrency limits, rate limits and fair ordering across keys; and
-- schedules (cron or fixed interval) that submit jobs.
--
-- Every limit is keyed: a job carries the key its handler's template gave it at submit
-- (`{input.customer_id}`, `{handler}`, a literal shared by several handlers...) and the
-- limit itself, so every replica and worker applies the same one.

ALTER TABLE jobsvc_handlers
    ADD COLUMN flow_control jsonb;

ALTER TABLE jobsvc_jobs
    ADD COLUMN concurrency_key   text,
    ADD COLUMN concurrency_limit integer,
    ADD COLUMN rate_key          text,
    ADD COLUMN rate_limit        integer,
    ADD COLUMN rate_period       double precision,
    ADD COLUMN fairness_key      text,
    -- Hand-out order among due jobs of one priority. run_at for most jobs; for a job with
    -- a fairness key, its key's virtual clock (see jobsvc_fair_clocks).
    ADD COLUMN order_at          timestamptz;
UPDATE jobsvc_jobs SET order_at = run_at;
ALTER TABLE jobsvc_jobs ALTER COLUMN order_at SET NOT NULL, ALTER COLUMN order_at SET DEFAULT now();

DROP INDEX jobsvc_jobs_queued_idx;
CREATE INDEX jobsvc_jobs_queued_idx ON jobsvc_jobs (priority DESC, order_at, id) WHERE state = 'queued';

-- Running jobs per concurrency key. Kept exact by the trigger below on every way a job
-- enters or leaves RUNNING (claim, finish, failed attempt, lease rescue, requeue,
-- deadline, cancel), in the same transaction: a crashed worker's slot comes back when
-- the rescuer ends its attempt, and can never leak. A claim locks the key's row, so
-- replicas claiming at once cannot both take the last slot.
CREATE TABLE jobsvc_concurrency (
    key     text    PRIMARY KEY,
    running integer NOT NULL DEFAULT 0 CHECK (running >= 0)
);

CREATE FUNCTION jobsvc_concurrency_count() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_running integer;
BEGIN
    IF NEW.state = 'running' THEN
        INSERT INTO jobsvc_concurrency AS c (key, running) VALUES (NEW.concurrency_key, 1)
        ON CONFLICT (key) DO UPDATE SET running = c.running + 1;
    ELSE
        UPDATE jobsvc_concurrency SET running = greatest(running - 1, 0)
        WHERE key = OLD.concurrency_key
        RETURNING running INTO v_running;
        -- A slot freed on a full key: jobs may be waiting for it on any replica. Only
        -- then, so a limit that is not binding costs no NOTIFY.
        IF v_running IS NOT NULL AND v_running + 1 >= OLD.concurrency_limit THEN
            PERFORM pg_notify('jobsvc_jobs', '');
        END IF;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER jobsvc_jobs_concurrency_count
AFTER UPDATE OF state ON jobsvc_jobs
FOR EACH ROW
WHEN (OLD.concurrency_key IS NOT NULL AND (OLD.state = 'running') <> (NEW.state = 'running'))
EXECUTE FUNCTION jobsvc_concurrency_count();

-- Rate limits as an exact sliding window: at most `capacity` starts in any `period`
-- seconds. (A token bucket of that capacity and refill rate allows up to twice the limit
-- in one window: a full bucket, then a period of refill.) The row keeps the recent
-- grants as parallel arrays (when, how many); a claim locks the row, forgets grants older
-- than the period, and grants what is left of the capacity.
CREATE TABLE jobsvc_rate_windows (
    key           text             PRIMARY KEY,
    capacity      integer          NOT NULL,
    period        double precision NOT NULL,
    grant_times   timestamptz[]    NOT NULL DEFAULT '{}',
    grant_counts  integer[]        NOT NULL DEFAULT '{}',
    -- While the window is full: when its oldest grant expires. Claims skip the key until
    -- then and claim loops wake then.
    blocked_until timestamptz
);
CREATE INDEX jobsvc_rate_windows_blocked_idx ON jobsvc_rate_windows (blocked_until) WHERE blocked_until IS NOT NULL;

-- Takes up to p_wanted starts from key p_key's window; returns how many were granted
-- and the grant time (the jobs' started_at, so a window over started_at is exact).
CREATE FUNCTION jobsvc_rate_take(p_key text, p_capacity integer, p_period double precision, p_wanted integer)
RETURNS TABLE (granted integer, granted_at timestamptz)
LANGUAGE plpgsql AS $$
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
$$;

-- Fairness by virtual clock: each key's clock advances by `spacing` seconds per job
-- submitted, and a job is handed out in order of max(its key's clock, now). A key that
-- floods the queue pushes its own jobs back; other keys' jobs keep their place.
CREATE TABLE jobsvc_fair_clocks (
    key     text        PRIMARY KEY,
    next_at timestamptz NOT NULL
);

CREATE TABLE jobsvc_schedules (
    name              text             PRIMARY KEY,
    handler           text             NOT NULL,
    version_selector  text             NOT NULL,
    input             jsonb,
    input_type_url    text,
    input_data        bytea,
    priority          integer          NOT NULL DEFAULT 0,
    labels            jsonb            NOT NULL DEFAULT '{}',
    -- Retry policy and timeout overrides of the jobs it submits (JobSpec fields).
    options           jsonb            NOT NULL DEFAULT '{}',
    cron              text,
    interval_seconds  double precision,
    time_zone         text             NOT NULL DEFAULT 'UTC',
    missed_ticks      text             NOT NULL DEFAULT 'skip' CHECK (missed_ticks IN ('skip', 'run_once')),
    paused            boolean          NOT NULL DEFAULT false,
    -- 'api' (created over gRPC or the CLI) or 'code' (declared beside a handler).
    source            text             NOT NULL DEFAULT 'api',
    next_tick_at      timestamptz      NOT NULL,
    last_tick_at      timestamptz,
    last_job_id       uuid,
    created_at        timestamptz      NOT NULL DEFAULT now(),
    updated_at        timestamptz      NOT NULL DEFAULT now(),
    CHECK ((cron IS NULL) <> (interval_seconds IS NULL))
);
CREATE INDEX jobsvc_schedules_due_idx ON jobsvc_schedules (next_tick_at) WHERE NOT paused;

-- Locks a concurrency key's counter (creating it) and returns its running count as of
-- the lock, not of the calling statement's snapshot: a claim on another replica that
-- committed a moment ago is counted. The lock is held until the claim commits.
CREATE FUNCTION jobsvc_concurrency_lock(p_key text) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_running integer;
BEGIN
    INSERT INTO jobsvc_concurrency (key) VALUES (p_key) ON CONFLICT (key) DO NOTHING;
    SELECT running INTO v_running FROM jobsvc_concurrency WHERE key = p_key FOR UPDATE;
    RETURN v_running;
END;
$$;

-- As in 0002, and a retried job keeps its hand-out order (order_at) unless it is due later.
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
