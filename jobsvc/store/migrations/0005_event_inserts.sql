-- Events are written only by statements that update their job in the same statement
-- (claim, event append, finish, retry...), so the foreign key from events to jobs never
-- caught anything, and its per-row check cost more than the event insert itself (about
-- 75 us per row measured in a claim of 128). The reaper deletes a job's events with it.
ALTER TABLE jobsvc_job_events DROP CONSTRAINT jobsvc_job_events_job_id_fkey;
