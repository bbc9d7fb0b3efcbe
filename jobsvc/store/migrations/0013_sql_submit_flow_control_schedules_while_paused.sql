-- jobsvc_submit takes handlers with flow control (issue 16): it renders the version's
-- concurrency, rate and fairness keys from the job as gRPC Submit does
-- (jobsvc.domain.flow), stores them with their limits on the job, and advances the
-- fairness key's virtual clock as job_insert_many does. What it cannot render exactly as
-- the server would, it refuses (invalid_parameter_value, saying to submit over gRPC)
-- rather than put the job under another key.

-- The host:port that `{input.field|host}` renders for a URL, as jobsvc.domain.flow.url_host
-- reads it: scheme http or https (any case), host lower-cased, the scheme's default port
-- written out (a port 0 too, as there), an IPv6 literal in brackets. NULL for anything
-- else, and for URLs whose reading by Python's urlsplit is subtle (white space or control
-- characters, a backslash, a percent-encoded or non-ASCII host, several '@'): jobsvc_submit
-- refuses those rather than render a key that the server might render otherwise.
CREATE FUNCTION jobsvc_url_host(url text)
 RETURNS text
 LANGUAGE plpgsql
 IMMUTABLE
AS $function$
DECLARE
    m text[] := regexp_match(url,
        '^([A-Za-z][A-Za-z0-9+.-]*)://(?:[^/?#@\s\\]*@)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~-]+)(?::([0-9]{1,5}))?([/?#].*)?$');
    v_scheme text := lower(m[1]);
    v_host text := lower(m[2]);
    v_port integer := m[3]::integer;
BEGIN
    IF m IS NULL OR v_scheme NOT IN ('http', 'https') OR v_port > 65535 THEN
        RETURN NULL;
    END IF;
    IF left(v_host, 1) = '[' THEN
        BEGIN
            IF family(btrim(v_host, '[]')::inet) <> 6 THEN
                RETURN NULL;  -- [1.2.3.4]: urlsplit refuses a bracketed IPv4 address
            END IF;
        EXCEPTION WHEN invalid_text_representation THEN
            RETURN NULL;
        END;
    END IF;
    RETURN v_host || ':' || coalesce(nullif(v_port, 0), CASE v_scheme WHEN 'http' THEN 80 ELSE 443 END);
END;
$function$;

-- One flow-control key of a job, rendered from its template as jobsvc.domain.flow.render_key
-- does: {handler}, {version}, {label.name}, {input.a.b} and {input.a.b|host}. Numbers
-- render as the server sees them after protobuf (a double): whole ones as integers, others
-- as Python prints a float (shortest round trip, which extra_float_digits = 1 gives here).
-- A missing or unusable field raises invalid_parameter_value naming it.
CREATE FUNCTION jobsvc_render_key(template text, handler text, version text, input jsonb, labels jsonb)
 RETURNS text
 LANGUAGE plpgsql
 IMMUTABLE
 SET extra_float_digits = 1
AS $function$
DECLARE
    v_rest text := template;
    v_out text := '';
    v_open integer;
    v_close integer;
    v_path text;
    v_name text;
    v_node jsonb;
    v_part text;
    v_number double precision;
    v_value text;
BEGIN
    LOOP
        v_open := strpos(v_rest, '{');
        EXIT WHEN v_open = 0;
        v_close := strpos(substr(v_rest, v_open + 1), '}');
        EXIT WHEN v_close = 0;  -- never: the server checks templates when a version registers
        v_path := substr(v_rest, v_open + 1, v_close - 1);
        v_out := v_out || left(v_rest, v_open - 1);
        v_rest := substr(v_rest, v_open + v_close + 1);
        IF v_path = 'handler' THEN
            v_value := handler;
        ELSIF v_path = 'version' THEN
            v_value := version;
        ELSIF v_path LIKE 'label.%' THEN
            v_name := substr(v_path, 7);
            v_value := labels ->> v_name;
            IF v_value IS NULL THEN
                RAISE EXCEPTION 'jobsvc_submit: label % is required by the key %', quote_literal(v_name),
                    quote_literal(template) USING ERRCODE = 'invalid_parameter_value', COLUMN = 'labels';
            END IF;
        ELSE
            v_name := substr(split_part(v_path, '|', 1), 7);
            v_node := input;
            FOREACH v_part IN ARRAY string_to_array(v_name, '.') LOOP
                IF jsonb_typeof(v_node) IS DISTINCT FROM 'object' OR NOT v_node ? v_part THEN
                    RAISE EXCEPTION 'jobsvc_submit: input field % is required by the key %', quote_literal(v_name),
                        quote_literal(template) USING ERRCODE = 'invalid_parameter_value', COLUMN = 'input.' || v_name;
                END IF;
                v_node := v_node -> v_part;
            END LOOP;
            IF jsonb_typeof(v_node) NOT IN ('string', 'number', 'boolean') THEN
                RAISE EXCEPTION 'jobsvc_submit: input field % must be a string, number or boolean for the key %',
                    quote_literal(v_name), quote_literal(template)
                    USING ERRCODE = 'invalid_parameter_value', COLUMN = 'input.' || v_name;
            END IF;
            IF v_path LIKE '%|host' THEN
                v_value := CASE WHEN jsonb_typeof(v_node) = 'string' THEN jobsvc_url_host(v_node #>> '{}') END;
                IF v_value IS NULL THEN
                    RAISE EXCEPTION 'jobsvc_submit: input field % must be an http(s) URL with a host for the key %',
                        quote_literal(v_name), quote_literal(template)
                        USING ERRCODE = 'invalid_parameter_value', COLUMN = 'input.' || v_name,
                        HINT = 'In SQL the host must be an ASCII name or an IP literal, the URL without white space; '
                               'submit other URLs over gRPC.';
                END IF;
            ELSIF jsonb_typeof(v_node) = 'number' THEN
                v_number := v_node::double precision;
                IF v_number = trunc(v_number) AND abs(v_number) < 9.2e18 THEN
                    v_value := v_number::bigint::text;
                ELSIF v_number <> trunc(v_number) AND abs(v_number) < 1e15 THEN
                    v_value := v_number::text;
                ELSE
                    RAISE EXCEPTION 'jobsvc_submit: input field % is a number too large for the key % in SQL',
                        quote_literal(v_name), quote_literal(template)
                        USING ERRCODE = 'invalid_parameter_value', COLUMN = 'input.' || v_name,
                        HINT = 'Submit it over gRPC.';
                END IF;
            ELSE
                v_value := v_node #>> '{}';  -- a string as it is; true, false
            END IF;
        END IF;
        v_out := v_out || v_value;
    END LOOP;
    v_out := v_out || v_rest;
    IF octet_length(v_out) > 256 THEN
        RAISE EXCEPTION 'jobsvc_submit: the key rendered from % is longer than 256 bytes', quote_literal(template)
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'input';
    END IF;
    RETURN v_out;
END;
$function$;

-- As in 0009, with flow control: see the comment there for what it checks and the
-- SQLSTATEs it raises.
CREATE OR REPLACE FUNCTION jobsvc_submit(
    handler text,
    input jsonb DEFAULT 'null'::jsonb,
    version text DEFAULT '',
    priority integer DEFAULT 0,
    labels jsonb DEFAULT '{}'::jsonb,
    run_at timestamptz DEFAULT NULL,
    idempotency_key text DEFAULT NULL,
    max_attempts integer DEFAULT NULL
)
 RETURNS uuid
 LANGUAGE plpgsql
AS $function$
#variable_conflict use_column
DECLARE
    v_selector text := coalesce(jobsvc_submit.version, '');
    v_exact text := regexp_replace(coalesce(jobsvc_submit.version, ''), '^(=|v)+', '');
    v_handler jobsvc_handlers%ROWTYPE;
    v_policy jsonb;
    v_labels jsonb := coalesce(jobsvc_submit.labels, '{}'::jsonb);
    v_input jsonb := coalesce(jobsvc_submit.input, 'null'::jsonb);
    v_due timestamptz := greatest(coalesce(jobsvc_submit.run_at, now()), now());
    v_id uuid := gen_random_uuid();
    v_existing jobsvc_jobs%ROWTYPE;
    -- Flow control, read as FlowControl.from_json reads it (a part without its limit is absent).
    v_flow jsonb;
    v_concurrency_key text;
    v_concurrency_limit integer;
    v_rate_key text;
    v_rate_limit integer;
    v_rate_period double precision;
    v_fair_key text;
    v_spacing double precision;
    v_order timestamptz;
BEGIN
    IF jobsvc_submit.handler IS NULL OR jobsvc_submit.handler = '' THEN
        RAISE EXCEPTION 'jobsvc_submit: handler is required' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF v_selector IN ('', 'latest', '*', 'x') THEN
        v_exact := jobsvc_handler_latest(jobsvc_submit.handler);
    ELSIF v_exact !~ '^[0-9]+\.[0-9]+\.[0-9]+([-+].*)?$' THEN
        RAISE EXCEPTION 'jobsvc_submit: version % is a range; in SQL give an exact version or latest', v_selector
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Submit over gRPC to resolve ranges.';
    END IF;
    SELECT * INTO v_handler FROM jobsvc_handlers h WHERE h.name = jobsvc_submit.handler AND h.version = v_exact;
    IF NOT FOUND THEN
        IF NOT EXISTS (SELECT 1 FROM jobsvc_handlers h WHERE h.name = jobsvc_submit.handler) THEN
            RAISE EXCEPTION 'jobsvc_submit: no handler named % is registered', jobsvc_submit.handler
                USING ERRCODE = 'no_data_found';
        END IF;
        RAISE EXCEPTION 'jobsvc_submit: handler % has no version matching %', jobsvc_submit.handler,
            coalesce(nullif(v_selector, ''), 'latest') USING ERRCODE = 'no_data_found';
    END IF;
    IF v_handler.input_type <> '' THEN
        RAISE EXCEPTION 'jobsvc_submit: %@% takes a % message; submit it over gRPC', v_handler.name,
            v_handler.version, v_handler.input_type USING ERRCODE = 'feature_not_supported';
    END IF;
    IF jsonb_typeof(v_labels) <> 'object'
       OR EXISTS (SELECT 1 FROM jsonb_each(v_labels) l WHERE jsonb_typeof(l.value) <> 'string') THEN
        RAISE EXCEPTION 'jobsvc_submit: labels must be a JSON object of strings' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF jobsvc_submit.max_attempts IS NOT NULL AND jobsvc_submit.max_attempts < 1 THEN
        RAISE EXCEPTION 'jobsvc_submit: max_attempts must be at least 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;

    v_flow := coalesce(v_handler.flow_control, '{}'::jsonb);
    IF jsonb_typeof(v_flow #> '{concurrency,max_running}') = 'number' THEN
        v_concurrency_limit := (v_flow #>> '{concurrency,max_running}')::integer;
        v_concurrency_key := jobsvc_render_key(coalesce(nullif(v_flow #>> '{concurrency,key}', ''), '{handler}'),
            v_handler.name, v_handler.version, v_input, v_labels);
    END IF;
    IF jsonb_typeof(v_flow #> '{rate,max_starts}') = 'number' THEN
        v_rate_limit := (v_flow #>> '{rate,max_starts}')::integer;
        v_rate_period := CASE WHEN jsonb_typeof(v_flow #> '{rate,period}') = 'number'
                              THEN (v_flow #>> '{rate,period}')::double precision ELSE 1 END;
        v_rate_key := jobsvc_render_key(coalesce(nullif(v_flow #>> '{rate,key}', ''), '{handler}'),
            v_handler.name, v_handler.version, v_input, v_labels);
    END IF;
    IF jsonb_typeof(v_flow #> '{fairness,key}') = 'string' THEN
        v_spacing := CASE WHEN jsonb_typeof(v_flow #> '{fairness,spacing}') = 'number'
                          THEN (v_flow #>> '{fairness,spacing}')::double precision ELSE 1 END;
        v_fair_key := jobsvc_render_key(v_flow #>> '{fairness,key}', v_handler.name, v_handler.version,
            v_input, v_labels);
    END IF;
    v_order := v_due;
    IF v_fair_key IS NOT NULL THEN
        -- The key's virtual clock moves on by one spacing; the job takes the slot it moved
        -- from (or now, if the clock lags), as job_insert_many gives a batch of one.
        INSERT INTO jobsvc_fair_clocks AS f (key, next_at)
        VALUES (v_fair_key, now() + make_interval(secs => v_spacing))
        ON CONFLICT (key) DO UPDATE SET next_at = greatest(f.next_at, now()) + (excluded.next_at - now())
        RETURNING greatest(v_due, f.next_at - make_interval(secs => v_spacing)) INTO v_order;
    END IF;

    v_policy := coalesce(v_handler.retry_policy, '{}'::jsonb);
    INSERT INTO jobsvc_jobs
        (id, handler, version_selector, version, state, priority, input, idempotency_key, labels,
         run_at, order_at, last_seq, max_attempts, retry_initial_interval, retry_backoff_coefficient,
         retry_maximum_interval, non_retryable_error_types, attempt_timeout, retention,
         concurrency_key, concurrency_limit, rate_key, rate_limit, rate_period, fairness_key)
    VALUES
        (v_id, v_handler.name, v_selector, v_handler.version, 'queued', coalesce(jobsvc_submit.priority, 0),
         v_input, jobsvc_submit.idempotency_key, v_labels, v_due, v_order, 1,
         -- The defaults are those of DEFAULT_RETRY_POLICY and DEFAULT_RETENTION_SECONDS.
         coalesce(jobsvc_submit.max_attempts, (v_policy ->> 'maximum_attempts')::integer, 3),
         coalesce((v_policy ->> 'initial_interval')::double precision, 1),
         coalesce((v_policy ->> 'backoff_coefficient')::double precision, 2),
         coalesce((v_policy ->> 'maximum_interval')::double precision, 300),
         coalesce(ARRAY(SELECT jsonb_array_elements_text(v_policy -> 'non_retryable_error_types')), '{}'),
         v_handler.attempt_timeout,
         coalesce(v_handler.retention, 604800),
         v_concurrency_key, v_concurrency_limit, v_rate_key, v_rate_limit, v_rate_period, v_fair_key)
    ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING;
    IF NOT FOUND THEN
        SELECT * INTO v_existing FROM jobsvc_jobs j WHERE j.idempotency_key = jobsvc_submit.idempotency_key;
        IF v_existing.handler IS DISTINCT FROM v_handler.name OR v_existing.input IS DISTINCT FROM v_input THEN
            RAISE EXCEPTION 'jobsvc_submit: idempotency key % was used by job % with other content',
                jobsvc_submit.idempotency_key, v_existing.id USING ERRCODE = 'unique_violation';
        END IF;
        RETURN v_existing.id;
    END IF;
    INSERT INTO jobsvc_job_events (job_id, seq, kind, time, data)
    VALUES (v_id, 1, 'queued', now(), jsonb_build_object('handler', v_handler.name, 'version', v_handler.version));
    -- Delivered at commit (and folded with equal ones of the same transaction), so a
    -- thousand submits in one transaction wake each replica once. The payload is what
    -- JobsDue sends: '' for now, else the epoch second the job is due.
    PERFORM pg_notify('jobsvc_jobs',
        CASE WHEN v_due <= now() THEN '' ELSE to_char(extract(epoch FROM v_due), 'FM9999999999990.000') END);
    RETURN v_id;
END;
$function$;

-- What a schedule's tick does while the job it would submit is paused (PauseService:
-- its handler, version or a flow-control key): 'skip' submits nothing (the default, so
-- that a resume does not release a burst of stale ticks), 'keep' submits it to wait queued
-- until the resume (jobsvc.domain.schedules.WhilePaused).
ALTER TABLE jobsvc_schedules ADD COLUMN while_paused text NOT NULL DEFAULT 'skip'
    CONSTRAINT jobsvc_schedules_while_paused_check CHECK (while_paused IN ('skip', 'keep'));

-- A bulk operation's filter (0009) without its sub-SELECT (the states test is `?` now), so
-- that PostgreSQL inlines it: each batch's walk along the creation index then tests plain
-- conditions on the row instead of calling the function for every job it passes (100,000
-- jobs newer than the cursor that the filter leaves out: 3.3 s a batch before, 0.65 s after).
CREATE OR REPLACE FUNCTION jobsvc_job_selected(j jobsvc_jobs, f jsonb, action text)
 RETURNS boolean
 LANGUAGE sql
 STABLE
AS $function$
    SELECT coalesce(
        CASE action
            WHEN 'cancel' THEN j.state IN ('queued', 'waiting', 'running')
            WHEN 'redrive' THEN j.state = 'failed' AND NOT j.redriven
            WHEN 'delete' THEN j.state IN ('succeeded', 'failed', 'cancelled')
        END
        AND (f -> 'states' IS NULL OR (f -> 'states') ? j.state)
        AND (f ->> 'handler' IS NULL OR j.handler = f ->> 'handler')
        AND (f ->> 'version' IS NULL OR j.version = f ->> 'version')
        AND (f -> 'labels' IS NULL OR j.labels @> (f -> 'labels'))
        AND (f ->> 'flow_key' IS NULL OR f ->> 'flow_key' IN (j.concurrency_key, j.rate_key, j.fairness_key))
        AND (f ->> 'created_after' IS NULL OR j.created_at >= (f ->> 'created_after')::timestamptz)
        AND (f ->> 'created_before' IS NULL OR j.created_at < (f ->> 'created_before')::timestamptz),
        false)
$function$;
