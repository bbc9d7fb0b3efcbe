-- The lease index's condition no longer names the job's state.
--
-- It was `WHERE state = 'running'`: the same condition as the outcome write's
-- (job_finish_many: `j.id = ANY(...) AND j.state = 'running'`), so the planner could read
-- the running jobs through it instead of through the primary key. Every claim is an
-- update that adds an entry to it, and only vacuum removes the dead ones: measured under
-- load, 15,936 entries for about 100 running jobs, and some outcome writes became bitmap
-- scans of hundreds of pages (364-566 us of statement time per job instead of 75-114).
-- `lease_expires_at IS NOT NULL` holds for the same rows (a claim sets the lease, every
-- way out of RUNNING clears it), and the rescuer's `lease_expires_at < now()` implies it.
--
-- Building it reads the whole table while writes wait. On a large table, build it first
-- with `CREATE INDEX CONCURRENTLY jobsvc_jobs_leased_idx ON jobsvc_jobs (lease_expires_at)
-- WHERE lease_expires_at IS NOT NULL`: this migration then finds it and only drops the old one.
CREATE INDEX IF NOT EXISTS jobsvc_jobs_leased_idx ON jobsvc_jobs (lease_expires_at)
    WHERE lease_expires_at IS NOT NULL;
DROP INDEX jobsvc_jobs_lease_idx;
