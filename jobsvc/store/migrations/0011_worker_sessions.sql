-- The remote worker sessions connected to every replica (WorkerDirectoryService.ListWorkers).
--
-- A replica writes a row when a session opens, refreshes its rows (in-flight counts and
-- refreshed_at) every few seconds in one statement, and deletes a row when its session
-- ends. A replica that dies leaves its rows behind: readers ignore rows not refreshed
-- within a bound, and every refresh deletes those older than it. Small (one row per
-- connected session), written only by those refreshes: nowhere near the hot path.
CREATE TABLE jobsvc_worker_sessions (
    session_id   text PRIMARY KEY,
    worker_id    text NOT NULL,
    handlers     text[] NOT NULL,
    capacity     integer NOT NULL,
    in_flight    integer NOT NULL DEFAULT 0,
    replica      text NOT NULL,
    connected_at timestamptz NOT NULL DEFAULT now(),
    refreshed_at timestamptz NOT NULL DEFAULT now()
);
