-- The overview's "finished in the last hour" without counting the hour at every refresh
-- (issue 15): per-minute counts of finished jobs, filled by maintenance, never by the
-- statements that finish jobs.
--
-- Every replica's maintenance rolls up, every few seconds, the jobs that finished since
-- the watermark (jobsvc_finished_rollup.through) up to a moment safely in the past, read
-- through jobsvc_jobs_finished_idx, and moves the watermark there. The overview reads the
-- minutes up to the watermark from here and only the jobs finished after it (the last
-- few seconds of them) from jobsvc_jobs. Counts outlive the jobs' retention; rows
-- older than a day (the longest window) are deleted by the same roll-up.

-- Jobs that finished within one minute, per handler version and outcome.
CREATE TABLE jobsvc_finished_minutes (
    minute    timestamptz NOT NULL,
    handler   text NOT NULL,
    version   text NOT NULL,
    succeeded bigint NOT NULL DEFAULT 0,
    failed    bigint NOT NULL DEFAULT 0,
    cancelled bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (minute, handler, version)
);

-- The roll-up's watermark (one row): every job that finished before `through` is counted
-- in jobsvc_finished_minutes, none after it.
CREATE TABLE jobsvc_finished_rollup (
    id      boolean PRIMARY KEY DEFAULT true CHECK (id),
    through timestamptz NOT NULL
);

-- A database upgraded with history rolls its last day up over its first maintenance runs
-- (a few minutes of jobs per run; stretches where nothing finished are skipped at once).
INSERT INTO jobsvc_finished_rollup (through) VALUES (date_trunc('minute', now() - interval '24 hours'));
