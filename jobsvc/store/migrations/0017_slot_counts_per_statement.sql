-- Concurrency slots counted once per key per statement instead of once per job.
--
-- jobsvc_jobs_concurrency_count kept jobsvc_concurrency exact by updating the key's
-- counter row for every job that entered or left RUNNING: a claim of 64 jobs of one key
-- wrote 64 versions of that row, and so did the finish of those 64. Every claim then
-- read the key's counter (the at-limit check per candidate job, the lock of the slots)
-- through a page thick with dead versions, and flow control cost end to end about a
-- fifth of the throughput with a limit set but never reached.
--
-- The row trigger now only notes each change, as an entry of the transaction-local
-- setting jobsvc.slot_changes, and a statement trigger on the same UPDATEs applies them:
-- one write per key, in key order (the order claims and finishes lock counters in, so
-- no deadlock is added). Still every way a job enters or leaves RUNNING, in the same
-- transaction: a statement rolled back to a savepoint takes its noted changes with it
-- (settings set locally are undone with the subtransaction), and a failed transaction
-- leaves nothing behind.

-- One entry per job that entered (+1) or left (-1) RUNNING with a concurrency key:
-- `[delta, "key", limit]`, JSON, entries joined by commas.
CREATE OR REPLACE FUNCTION jobsvc_concurrency_count() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_noted text := current_setting('jobsvc.slot_changes', true);
BEGIN
    PERFORM set_config(
        'jobsvc.slot_changes',
        CASE WHEN coalesce(v_noted, '') = '' THEN '' ELSE v_noted || ',' END
            || json_build_array(CASE WHEN NEW.state = 'running' THEN 1 ELSE -1 END,
                                OLD.concurrency_key, OLD.concurrency_limit)::text,
        true);
    RETURN NULL;
END;
$$;

-- Applies the changes the row trigger noted, one counter write per key, in key order;
-- when a slot is freed on a key that was full, a NOTIFY so that claim loops on every
-- replica look again (only then: a limit that is not binding costs no NOTIFY).
CREATE FUNCTION jobsvc_concurrency_apply() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_noted text := current_setting('jobsvc.slot_changes', true);
    v_freed_full boolean;
BEGIN
    IF coalesce(v_noted, '') = '' THEN
        RETURN NULL;
    END IF;
    PERFORM set_config('jobsvc.slot_changes', '', true);
    WITH noted AS (
        SELECT e ->> 1 AS key, sum((e ->> 0)::integer) AS delta, max((e ->> 2)::integer) AS lim
        FROM jsonb_array_elements(('[' || v_noted || ']')::jsonb) AS e
        GROUP BY 1
        ORDER BY 1
    ), counted AS (
        INSERT INTO jobsvc_concurrency AS c (key, running)
        SELECT key, greatest(delta, 0) FROM noted ORDER BY key
        ON CONFLICT (key) DO UPDATE SET running = greatest(c.running + (
            SELECT n.delta FROM noted n WHERE n.key = excluded.key), 0)
        RETURNING c.key, c.running
    )
    SELECT bool_or(n.delta < 0 AND c.running - n.delta >= n.lim) INTO v_freed_full
    FROM counted c JOIN noted n USING (key);
    IF v_freed_full THEN
        PERFORM pg_notify('jobsvc_jobs', '');
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER jobsvc_jobs_concurrency_apply
AFTER UPDATE OF state ON jobsvc_jobs
FOR EACH STATEMENT
EXECUTE FUNCTION jobsvc_concurrency_apply();
