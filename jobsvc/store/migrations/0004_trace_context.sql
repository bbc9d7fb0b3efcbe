-- Tracing: the W3C trace context (traceparent, tracestate) of the Submit that created a
-- job, so the execution, in-process or on a remote worker, continues the caller's trace.
-- NULL when tracing is off or the caller sent none.
ALTER TABLE jobsvc_jobs ADD COLUMN trace_context jsonb;
