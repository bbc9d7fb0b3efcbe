-- Finished jobs' history in tables partitioned by the day their retention ends, so that
-- retention drops a whole day at once instead of deleting rows, and the live table
-- (jobsvc_jobs: what claims, settlements and Calls touch) holds only the jobs that are
-- queued, running or parked and those finished in the last minutes, however long the
-- history kept.
--
-- Maintenance moves a finished job here (job_history_move: deleted from jobsvc_jobs and
-- inserted here in one statement, with its events) once it has been finished for
-- --history-after and the finished-jobs roll-up has counted it. Jobs that something still
-- finds by a key of the live table stay there until their retention, and the reaper
-- deletes them as before: a job with an idempotency key or a cacheable input (the
-- submit's ON CONFLICT and the result cache look in jobsvc_jobs only), a failed job not
-- yet redriven (the dead-letter queue that redrive works on), a workflow step, a child
-- job and a parent (their joins read one another's rows).
--
-- Each table's columns are expires_at (the partition key: finished_at + retention) and
-- then exactly its live table's, in the same order, so that a row moves as
-- `SELECT expires_at, j.*` and a reader unions the two as
-- `SELECT NULL::timestamptz AS expires_at, * FROM jobsvc_jobs UNION ALL SELECT * FROM
-- jobsvc_jobs_history`. A migration that adds a column to jobsvc_jobs adds it here too
-- (tests/store/test_history.py checks that the two agree).
--
-- A partition per UTC day, made ahead of the rows it takes by jobsvc_history_partition
-- and dropped by maintenance (job_history_drop) once its day is over: a job is kept at
-- least its retention, and less than a day longer.

CREATE TABLE jobsvc_jobs_history (
    expires_at timestamptz NOT NULL,
    LIKE jobsvc_jobs INCLUDING DEFAULTS
) PARTITION BY RANGE (expires_at);

-- GetJob and Stream of a job no longer in jobsvc_jobs (a probe per partition).
CREATE INDEX jobsvc_jobs_history_id_idx ON jobsvc_jobs_history (id);
-- ListJobs, newest first (with jobsvc_jobs_created_idx: one ordered walk of both).
CREATE INDEX jobsvc_jobs_history_created_idx ON jobsvc_jobs_history (created_at DESC, id DESC);
-- ListJobs of one handler.
CREATE INDEX jobsvc_jobs_history_handler_created_idx ON jobsvc_jobs_history (handler, created_at DESC, id DESC);
-- ListJobs of failed or cancelled jobs: rare among the succeeded ones, and walking the
-- history by creation for them would read all of it. Not on the live table, where it would
-- cost every job an entry at submit and at claim; here only the move writes it.
CREATE INDEX jobsvc_jobs_history_unsucceeded_idx ON jobsvc_jobs_history (state, created_at DESC, id DESC)
    WHERE state <> 'succeeded';
-- ListJobs' label filters, as jobsvc_jobs_labels_idx.
CREATE INDEX jobsvc_jobs_history_labels_idx ON jobsvc_jobs_history USING gin (labels jsonb_path_ops)
    WHERE labels <> '{}'::jsonb;

CREATE TABLE jobsvc_job_events_history (
    expires_at timestamptz NOT NULL,
    LIKE jobsvc_job_events INCLUDING DEFAULTS
) PARTITION BY RANGE (expires_at);

-- A job's events in order (Stream of a job in the history).
CREATE INDEX jobsvc_job_events_history_job_idx ON jobsvc_job_events_history (job_id, seq);

-- The partitions of both history tables for the UTC day p_day, when they do not exist
-- yet. Each is created apart and then attached, which locks the parent only against
-- other schema changes (SHARE UPDATE EXCLUSIVE), not against readers. Run by
-- job_history_move under its advisory lock, so two replicas never race to make one.
CREATE FUNCTION jobsvc_history_partition(p_day date)
 RETURNS void
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_from timestamptz := p_day::timestamp AT TIME ZONE 'UTC';
    v_to timestamptz := (p_day + 1)::timestamp AT TIME ZONE 'UTC';
    v_parent text;
    v_name text;
BEGIN
    FOREACH v_parent IN ARRAY ARRAY['jobsvc_jobs_history', 'jobsvc_job_events_history'] LOOP
        v_name := v_parent || '_' || to_char(p_day, 'YYYYMMDD');
        CONTINUE WHEN to_regclass(v_name) IS NOT NULL;
        EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS)', v_name, v_parent);
        EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                       v_parent, v_name, v_from, v_to);
    END LOOP;
END
$function$;

-- A bulk operation's filter (jobsvc_job_selected, 0009 and 0013) on a job's columns
-- instead of a jobsvc_jobs row, so that the same definition selects the jobs of the
-- history (for a delete). Still one SELECT, which PostgreSQL inlines.
DROP FUNCTION jobsvc_job_selected(jobsvc_jobs, jsonb, text);
CREATE FUNCTION jobsvc_job_selected(f jsonb, action text, state text, redriven boolean, handler text,
                                    version text, labels jsonb, concurrency_key text, rate_key text,
                                    fairness_key text, created_at timestamptz)
 RETURNS boolean
 LANGUAGE sql
 STABLE
AS $function$
    SELECT coalesce(
        CASE action
            WHEN 'cancel' THEN state IN ('queued', 'waiting', 'running')
            WHEN 'redrive' THEN state = 'failed' AND NOT redriven
            WHEN 'delete' THEN state IN ('succeeded', 'failed', 'cancelled')
        END
        AND (f -> 'states' IS NULL OR (f -> 'states') ? state)
        AND (f ->> 'handler' IS NULL OR handler = f ->> 'handler')
        AND (f ->> 'version' IS NULL OR version = f ->> 'version')
        AND (f -> 'labels' IS NULL OR labels @> (f -> 'labels'))
        AND (f ->> 'flow_key' IS NULL OR f ->> 'flow_key' IN (concurrency_key, rate_key, fairness_key))
        AND (f ->> 'created_after' IS NULL OR created_at >= (f ->> 'created_after')::timestamptz)
        AND (f ->> 'created_before' IS NULL OR created_at < (f ->> 'created_before')::timestamptz),
        false)
$function$;

-- How far the move has walked jobsvc_jobs_finished_idx (one row): every job finished
-- before (through_at, through_id), in that order, has been moved or left in jobsvc_jobs
-- for good, so each finished job is looked at once, however many stay (keyed jobs, the
-- dead-letter queue). A failed job redriven after the walk passed it stays too, until its
-- retention. Its row lock is the move's mutex: replicas moving at once do it once.
CREATE TABLE jobsvc_history_mark (
    id         boolean     NOT NULL DEFAULT true,
    through_at timestamptz NOT NULL,
    through_id uuid        NOT NULL,
    CONSTRAINT jobsvc_history_mark_id_check CHECK (id),
    CONSTRAINT jobsvc_history_mark_pkey PRIMARY KEY (id)
);
INSERT INTO jobsvc_history_mark (through_at, through_id)
VALUES ('-infinity', '00000000-0000-0000-0000-000000000000');
