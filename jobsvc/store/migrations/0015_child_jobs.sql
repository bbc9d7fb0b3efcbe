-- Child jobs and durable sleep: a running handler spawns jobs linked to it
-- (parent_id, spawn_key) and parks until they finish (state 'waiting') or until a time
-- (state 'queued', run_at later), without holding its executor slot or lease. Parking is
-- the attempt's settlement (jobsvc_job_park, fenced by its token); the handler runs again
-- when it is due and finds what it spawned and slept by their keys (replay).
--
-- The wake-up after the last awaited child is decided by PostgreSQL in that child's
-- terminal transaction, as a workflow join is: the trigger jobsvc_jobs_child_finished
-- takes the parent's row lock (every finishing child does, so they and the park go one at
-- a time on that row) and counts the child off the parent's children_pending; the
-- decrement that reaches zero queues the parent before it commits. Parking writes only
-- the parent's row: a claim that skips locked rows never misses a child because of it.
-- Plain jobs pay nothing: the triggers' WHEN clauses read only the row itself.

ALTER TABLE jobsvc_jobs
    ADD COLUMN parent_id uuid,
    -- Unique among the parent's children: the handler's deterministic name for the spawn.
    ADD COLUMN spawn_key text,
    -- The parent: has spawned (a cancel of it cancels its unfinished children).
    ADD COLUMN has_children boolean NOT NULL DEFAULT false,
    -- A parked parent (state waiting): the children it waits for, and how many of them
    -- have not finished.
    ADD COLUMN awaiting uuid[],
    ADD COLUMN children_pending integer NOT NULL DEFAULT 0,
    -- Durable sleeps, by key: when each ends (so a replay sleeps until the same moment).
    ADD COLUMN sleeps jsonb;

CREATE UNIQUE INDEX jobsvc_jobs_children_idx ON jobsvc_jobs (parent_id, spawn_key) WHERE parent_id IS NOT NULL;

-- Park the attempt holding p_token: until the unfinished ones of p_children (its own
-- children) have finished, or until the sleep p_sleep_key ends (p_until, unless the key
-- was recorded before: a replay sleeps until the moment first recorded). Not a failed
-- attempt (the attempt number is given back, as a requeue does). When nothing is left to
-- wait for (every child finished meanwhile, the sleep is over), the job is queued due
-- now. Returns the new state, or no row for a stale token.
--
-- The parent's row is locked first; the children are then read by a statement of their
-- own, whose snapshot is taken after the lock: a child whose terminal transaction
-- committed before is seen finished, and one that commits later takes the parent's lock
-- after this commit (in jobsvc_child_finished) and counts itself off. So
-- children_pending counts exactly the awaited children whose count-off is still to come.
CREATE FUNCTION jobsvc_job_park(p_job_id uuid, p_token uuid, p_children uuid[], p_until timestamptz,
                                p_sleep_key text)
 RETURNS TABLE(new_state text, event_seq integer, wake_at timestamptz)
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_awaiting uuid[];
    v_pending integer := 0;
    v_wake timestamptz;
    v_sleeps jsonb;
    v_reason text;
BEGIN
    SELECT sleeps INTO v_sleeps FROM jobsvc_jobs
    WHERE id = p_job_id AND attempt_token = p_token AND state = 'running' FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF cardinality(p_children) > 0 THEN
        SELECT array_agg(id ORDER BY id) INTO v_awaiting FROM jobsvc_jobs
        WHERE id = ANY(p_children) AND parent_id = p_job_id AND state IN ('queued', 'running', 'waiting');
        v_pending := coalesce(cardinality(v_awaiting), 0);
    END IF;
    IF p_sleep_key IS NOT NULL THEN
        v_wake := coalesce((v_sleeps ->> p_sleep_key)::timestamptz, p_until);
        v_sleeps := coalesce(v_sleeps, '{}'::jsonb) || jsonb_build_object(p_sleep_key, v_wake);
    END IF;
    v_reason := CASE
        WHEN v_pending > 0 THEN format('waiting for %s child job%s', v_pending, CASE WHEN v_pending > 1 THEN 's' END)
        WHEN v_wake > now() THEN format('sleeping until %s', v_wake)
        ELSE 'resuming' END;
    RETURN QUERY
    WITH parked AS (
        UPDATE jobsvc_jobs SET
            state = CASE WHEN v_pending > 0 THEN 'waiting' ELSE 'queued' END,
            awaiting = v_awaiting, children_pending = v_pending, sleeps = v_sleeps,
            run_at = greatest(coalesce(v_wake, now()), now()),
            order_at = greatest(order_at, coalesce(v_wake, now()), now()),
            lease_owner = NULL, lease_expires_at = NULL, attempt_token = NULL, attempt_deadline = NULL,
            -- It started once: a schedule-to-start timeout is met, not due again on resume.
            start_deadline_at = NULL, attempt = attempt - 1, last_seq = last_seq + 1
        WHERE id = p_job_id
        RETURNING state, last_seq, run_at
    ), parked_event AS (
        INSERT INTO jobsvc_job_events (job_id, seq, kind, data)
        SELECT p_job_id, last_seq, 'requeued', jsonb_build_object('reason', v_reason) FROM parked
    )
    SELECT state, last_seq, CASE WHEN state = 'queued' THEN run_at END FROM parked;
END;
$function$;

-- A child reached a terminal state: take its parent's row lock (whatever the parent's
-- state, so that this goes after a park in progress, or the park after this), and if the
-- parent is parked waiting for this child, count it off. In READ COMMITTED the locking
-- read returns the row as the transaction before committed it, so two children finishing
-- at once on two replicas count off one after the other, and exactly one of them reaches
-- zero and queues the parent. A parent that is not waiting for it is left alone.
CREATE FUNCTION jobsvc_child_finished()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_state text;
    v_awaiting uuid[];
    v_left integer;
BEGIN
    SELECT state, awaiting INTO v_state, v_awaiting FROM jobsvc_jobs WHERE id = NEW.parent_id FOR UPDATE;
    IF v_state IS DISTINCT FROM 'waiting' OR NOT coalesce(NEW.id = ANY(v_awaiting), false) THEN
        RETURN NULL;
    END IF;
    UPDATE jobsvc_jobs SET children_pending = children_pending - 1
    WHERE id = NEW.parent_id
    RETURNING children_pending INTO v_left;
    IF v_left = 0 THEN
        WITH resumed AS (
            UPDATE jobsvc_jobs SET
                state = 'queued', awaiting = NULL, run_at = now(), order_at = greatest(order_at, now()),
                last_seq = last_seq + 1
            WHERE id = NEW.parent_id
            RETURNING id, last_seq
        )
        INSERT INTO jobsvc_job_events (job_id, seq, kind, data)
        SELECT id, last_seq, 'requeued', jsonb_build_object('reason', 'its child jobs finished') FROM resumed;
        -- Claim loops on every replica look again; watchers of the parent hear of it.
        PERFORM pg_notify('jobsvc_jobs', '');
        PERFORM pg_notify('jobsvc_events', NEW.parent_id::text);
    END IF;
    RETURN NULL;
END;
$function$;

CREATE TRIGGER jobsvc_jobs_child_finished AFTER UPDATE OF state ON jobsvc_jobs
    FOR EACH ROW
    WHEN (NEW.parent_id IS NOT NULL
          AND OLD.state = ANY (ARRAY['waiting'::text, 'queued'::text, 'running'::text])
          AND NEW.state = ANY (ARRAY['succeeded'::text, 'failed'::text, 'cancelled'::text]))
    EXECUTE FUNCTION jobsvc_child_finished();

-- A job that spawned children was cancelled: its unfinished children are cancelled too,
-- in the same transaction (queued and waiting ones at once, in id order; running ones are
-- asked to stop, as CancelJob asks), and their own cancellations carry it down.
CREATE FUNCTION jobsvc_parent_cancelled()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_reason text := format('parent job %s cancelled', NEW.id);
    v_notified integer;
BEGIN
    WITH cancelled AS (
        UPDATE jobsvc_jobs j SET
            state = 'cancelled', finished_at = now(), cancel_reason = v_reason, last_seq = j.last_seq + 1
        FROM (SELECT id FROM jobsvc_jobs WHERE parent_id = NEW.id AND state IN ('queued', 'waiting')
              ORDER BY id FOR UPDATE) c
        WHERE j.id = c.id
        RETURNING j.id, j.last_seq
    ), cancelled_event AS (
        INSERT INTO jobsvc_job_events (job_id, seq, kind, data)
        SELECT id, last_seq, 'cancelled', jsonb_build_object('reason', v_reason) FROM cancelled
    )
    SELECT count(*) INTO v_notified FROM (
        SELECT pg_notify('jobsvc_events', string_agg(id::text, ','))
        FROM (SELECT id, (row_number() OVER () - 1) / 200 AS chunk FROM cancelled) c
        GROUP BY chunk
    ) n;
    WITH asked AS (
        UPDATE jobsvc_jobs SET cancel_requested = true,
            cancel_reason = CASE WHEN cancel_requested THEN cancel_reason ELSE v_reason END
        WHERE parent_id = NEW.id AND state = 'running'
        RETURNING pg_notify('jobsvc_cancel', id::text)
    )
    SELECT count(*) INTO v_notified FROM asked;
    RETURN NULL;
END;
$function$;

CREATE TRIGGER jobsvc_jobs_parent_cancelled AFTER UPDATE OF state ON jobsvc_jobs
    FOR EACH ROW
    WHEN (NEW.has_children AND NEW.state = 'cancelled' AND OLD.state <> 'cancelled')
    EXECUTE FUNCTION jobsvc_parent_cancelled();
