-- The queued-jobs index leads with the handler version: a claim walks the queue of each
-- version it serves apart (job_claim, job_claim_limited), in hand-out order.
--
-- It was (priority DESC, order_at, id) over every queued job, with the served versions a
-- filter on each row read: jobs of a version no executor here serves, or a paused one,
-- that sat ahead in hand-out order were read and passed over by every claim of every
-- other version. With 20,000 such jobs ahead, a claim of 5 read 20,107 pages; through
-- this index it reads under 20 (tests/store/test_postgres.py).
--
-- Building it reads the whole table while writes wait. On a large table, build it first
-- with `CREATE INDEX CONCURRENTLY jobsvc_jobs_queued_by_version_idx ON jobsvc_jobs
-- (handler, version, priority DESC, order_at, id) WHERE state = 'queued'`: this migration
-- then finds it and only drops the old one.
CREATE INDEX IF NOT EXISTS jobsvc_jobs_queued_by_version_idx ON jobsvc_jobs
    (handler, version, priority DESC, order_at, id) WHERE state = 'queued';
DROP INDEX jobsvc_jobs_queued_idx;
