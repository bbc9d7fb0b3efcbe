package jobsvc

import (
	"context"
	"iter"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	jobsvcv1 "github.com/jobsvc/jobsvc/clients/go/gen/jobsvc/v1"
)

// Result is the outcome of a Call whose job succeeded.
type Result struct {
	// Job is the job in state SUCCEEDED.
	Job *jobsvcv1.Job
}

// Decode decodes the job's result into out (see DecodePayload).
func (r *Result) Decode(out any) error { return DecodePayload(r.Job.GetResult(), out) }

// Submit enqueues one job and returns it once it is durable.
func (c *Client) Submit(ctx context.Context, handler string, input any, opts ...JobOption) (*jobsvcv1.Job, error) {
	spec, err := NewSpec(handler, input, opts...)
	if err != nil {
		return nil, err
	}
	resp, err := c.submit.Submit(ctx, &jobsvcv1.SubmitRequest{Job: spec})
	if err != nil {
		return nil, err
	}
	return resp.GetJob(), nil
}

// SubmitBatch enqueues jobs (see NewSpec) in one transaction: all or none. The
// jobs come back in the order of specs.
func (c *Client) SubmitBatch(ctx context.Context, specs ...*jobsvcv1.JobSpec) ([]*jobsvcv1.Job, error) {
	resp, err := c.submit.SubmitBatch(ctx, &jobsvcv1.SubmitBatchRequest{Jobs: specs})
	if err != nil {
		return nil, err
	}
	return resp.GetJobs(), nil
}

// Call submits a job and waits within ctx's deadline for it to finish. It
// returns the Result when the job succeeded, a *JobFailedError when it failed, a
// *JobCancelledError when it was cancelled, and a *CallError (wrapping the RPC
// error, e.g. DEADLINE_EXCEEDED) when the RPC ended after the job was accepted:
// the job carries on.
func (c *Client) Call(ctx context.Context, handler string, input any, opts ...JobOption) (*Result, error) {
	spec, err := NewSpec(handler, input, opts...)
	if err != nil {
		return nil, err
	}
	var header metadata.MD
	resp, err := c.call.Call(ctx, &jobsvcv1.CallRequest{Job: spec}, grpc.Header(&header))
	if err != nil {
		if ids := header.Get(JobIDMetadata); len(ids) > 0 {
			return nil, &CallError{JobID: ids[0], Err: err}
		}
		return nil, err
	}
	return finished(resp.GetJob())
}

// finished is a terminal job as a Result or the error of its state.
func finished(job *jobsvcv1.Job) (*Result, error) {
	switch job.GetState() {
	case jobsvcv1.JobState_JOB_STATE_FAILED:
		return nil, newJobFailedError(job)
	case jobsvcv1.JobState_JOB_STATE_CANCELLED:
		return nil, &JobCancelledError{Job: job}
	default:
		return &Result{Job: job}, nil
	}
}

// Get returns one job, whole (the FULL view).
func (c *Client) Get(ctx context.Context, id string) (*jobsvcv1.Job, error) {
	return c.GetView(ctx, id, jobsvcv1.JobView_JOB_VIEW_UNSPECIFIED)
}

// GetView returns one job in a view: JOB_VIEW_BASIC leaves out its input, result
// and tracebacks; JOB_VIEW_FULL (and UNSPECIFIED) is the whole job.
func (c *Client) GetView(ctx context.Context, id string, view jobsvcv1.JobView) (*jobsvcv1.Job, error) {
	resp, err := c.jobs.GetJob(ctx, &jobsvcv1.GetJobRequest{Id: id, View: view})
	if err != nil {
		return nil, err
	}
	return resp.GetJob(), nil
}

// Cancel cancels a queued job at once, or asks the executor of a running one to
// stop it. Cancelling a finished job is FAILED_PRECONDITION.
func (c *Client) Cancel(ctx context.Context, id, reason string) (*jobsvcv1.Job, error) {
	resp, err := c.jobs.CancelJob(ctx, &jobsvcv1.CancelJobRequest{Id: id, Reason: reason})
	if err != nil {
		return nil, err
	}
	return resp.GetJob(), nil
}

// Handlers lists the handler versions the service knows, sorted by name then
// newest version first; name restricts it to one handler.
func (c *Client) Handlers(ctx context.Context, name string) ([]*jobsvcv1.HandlerInfo, error) {
	resp, err := c.jobs.ListHandlers(ctx, &jobsvcv1.ListHandlersRequest{Name: name})
	if err != nil {
		return nil, err
	}
	return resp.GetHandlers(), nil
}

// ListOptions filters and pages List.
type ListOptions struct {
	// States keeps only jobs in these states (any when empty).
	States []jobsvcv1.JobState
	// Handler keeps only jobs of this handler (any when empty).
	Handler string
	// PageSize is 1..1000 (0: the server's default, 100).
	PageSize int32
	// PageToken is a previous page's NextPageToken.
	PageToken string
	// View is JOB_VIEW_BASIC for jobs without input, result and tracebacks (many
	// more a page); JOB_VIEW_FULL, the default, for whole jobs.
	View jobsvcv1.JobView
	// Labels keeps only jobs carrying every one of these labels (any when empty).
	Labels map[string]string
}

// List returns one page of jobs, newest first. A page may hold fewer than
// PageSize jobs (large jobs fill the response) and still have a NextPageToken.
func (c *Client) List(ctx context.Context, opts ListOptions) (*jobsvcv1.ListJobsResponse, error) {
	return c.jobs.ListJobs(ctx, &jobsvcv1.ListJobsRequest{
		States: opts.States, Handler: opts.Handler, PageSize: opts.PageSize, PageToken: opts.PageToken, View: opts.View,
		Labels: opts.Labels,
	})
}

// ListAll iterates over every job that matches opts, newest first, fetching
// pages as it goes. It stops at the first error, which it yields.
func (c *Client) ListAll(ctx context.Context, opts ListOptions) iter.Seq2[*jobsvcv1.Job, error] {
	return func(yield func(*jobsvcv1.Job, error) bool) {
		for {
			page, err := c.List(ctx, opts)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, job := range page.GetJobs() {
				if !yield(job, nil) {
					return
				}
			}
			if page.GetNextPageToken() == "" {
				return
			}
			opts.PageToken = page.GetNextPageToken()
		}
	}
}
