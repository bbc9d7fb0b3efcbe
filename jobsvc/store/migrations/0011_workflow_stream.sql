-- StreamWorkflow's per-workflow counter: the last number given to a step event.
ALTER TABLE jobsvc_workflows ADD COLUMN events_stamped integer NOT NULL DEFAULT 0;

-- StreamWorkflow: every step's events in one gap-free, resumable sequence per workflow.
--
-- The writers (claims, outcomes, the readiness trigger) are left as they are: a step's
-- events keep their per-job sequence in jobsvc_job_events and nothing on the hot path
-- takes a per-workflow lock. The workflow's sequence is assigned by its readers instead:
-- a stream "stamps" the step events it has not seen yet, under the workflow row's lock,
-- with the next numbers of the workflow's counter (events_stamped), in one statement
-- whose snapshot also says whether the workflow has finished. The numbering is stored, so
-- every reader, on any replica, sees the same order and a reconnecting client resumes
-- from the number it last saw: no gap (numbers are given out consecutively, under the
-- lock) and no double (an event is stamped once: (job_id, seq) is unique).
CREATE TABLE jobsvc_workflow_events (
    workflow_id uuid    NOT NULL REFERENCES jobsvc_workflows (id) ON DELETE CASCADE,
    wseq        integer NOT NULL,
    job_id      uuid    NOT NULL,
    seq         integer NOT NULL,
    CONSTRAINT jobsvc_workflow_events_pkey PRIMARY KEY (workflow_id, wseq),
    CONSTRAINT jobsvc_workflow_events_event_key UNIQUE (job_id, seq)
);
