package jobsvc

import (
	"context"
	"errors"
	"io"
	"iter"
	"math/rand/v2"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	jobsvcv1 "github.com/jobsvc/jobsvc/clients/go/gen/jobsvc/v1"
)

// ResumePolicy says how Stream resumes after the connection drops: up to
// MaxAttempts re-opens in a row without an event in between, the n-th after
// min(InitialBackoff * 2^(n-1), MaxBackoff), with jitter.
type ResumePolicy struct {
	MaxAttempts    int
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
}

// DefaultResumePolicy is Stream's resume policy unless WithStreamResume says otherwise.
var DefaultResumePolicy = ResumePolicy{MaxAttempts: 10, InitialBackoff: 100 * time.Millisecond, MaxBackoff: 5 * time.Second}

// backoff is the wait before the n-th consecutive re-open (n >= 1).
func (p ResumePolicy) backoff(n int) time.Duration {
	d := p.InitialBackoff
	for i := 1; i < n && d < p.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, p.MaxBackoff)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// errEndedEarly is a stream that ended cleanly before the job's terminal event
// (for example a server shutting down): unless the job turns out to be finished
// with nothing left to send (see caughtUp), it is resumed like a dropped connection.
var errEndedEarly = errors.New("jobsvc: stream ended before the job's terminal event")

// streamEventsPerMessage is the events per StreamResponse every Stream request
// asks for (the server's cap): a fast job's stream is limited by the cost of each
// gRPC message, not of each event, so batches carry several times more events a
// second. The server never holds an event back to fill a batch.
const streamEventsPerMessage = 1000

// Stream iterates over the events of job id with a sequence greater than
// afterSequence (0: from the start), in order, ending with the terminal event
// (succeeded, failed or cancelled).
//
// A dropped connection (UNAVAILABLE, a reset stream, a server that ends the
// stream early) is resumed from the last sequence seen, per the client's
// ResumePolicy: no gap, no duplicate. Any other error, or one that persists, is
// yielded last. Stop early by breaking out of the loop.
//
// When a stream ends cleanly without a terminal event, one GetJob (BASIC view)
// tells a finished job from a draining server: if the job is finished and its
// last sequence is at most the last one seen (or afterSequence, when resuming
// right after the terminal event), the iteration ends with no error; otherwise
// the stream is resumed as above, and so it is when that GetJob fails. An
// afterSequence beyond the job's last sequence is yielded as the server's
// OUT_OF_RANGE error (reason SEQUENCE_NOT_REACHED, see ErrorDetails).
func (c *Client) Stream(ctx context.Context, id string, afterSequence int64) iter.Seq2[*jobsvcv1.JobEvent, error] {
	return c.events(ctx, resumeRequest(id, afterSequence))
}

// SubmitAndStream submits a job and iterates over its events, as Stream does.
// The first event is "queued", which carries the job id (JobEvent.job_id).
func (c *Client) SubmitAndStream(ctx context.Context, handler string, input any, opts ...JobOption) iter.Seq2[*jobsvcv1.JobEvent, error] {
	spec, err := NewSpec(handler, input, opts...)
	if err != nil {
		return func(yield func(*jobsvcv1.JobEvent, error) bool) { yield(nil, err) }
	}
	return c.events(ctx, &jobsvcv1.StreamRequest{
		Target:              &jobsvcv1.StreamRequest_Submit{Submit: spec},
		MaxEventsPerMessage: streamEventsPerMessage,
	})
}

func (c *Client) events(ctx context.Context, req *jobsvcv1.StreamRequest) iter.Seq2[*jobsvcv1.JobEvent, error] {
	return func(yield func(*jobsvcv1.JobEvent, error) bool) {
		failures := 0 // re-opens since the last event
		for {
			o := c.streamOnce(ctx, req, yield)
			if o.done {
				return
			}
			if o.events > 0 {
				failures = 0
			}
			req = o.next
			if errors.Is(o.err, errEndedEarly) && c.caughtUp(ctx, req) {
				return
			}
			// A submit that never reached the point of naming its job cannot be
			// resumed: sending it again could run the job twice.
			if req.GetSubmit() != nil || !c.resumable(ctx, o.err) || failures >= c.resume.MaxAttempts {
				yield(nil, o.err)
				return
			}
			failures++
			if err := sleep(ctx, c.resume.backoff(failures)); err != nil {
				yield(nil, err)
				return
			}
		}
	}
}

// streamOutcome is how one Stream RPC ended.
type streamOutcome struct {
	next   *jobsvcv1.StreamRequest // resumes after the last event seen
	events int                     // events yielded
	done   bool                    // terminal event, or the consumer stopped
	err    error                   // what ended the RPC otherwise
}

// streamOnce runs one Stream RPC, yielding its events.
func (c *Client) streamOnce(ctx context.Context, req *jobsvcv1.StreamRequest,
	yield func(*jobsvcv1.JobEvent, error) bool,
) streamOutcome {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	o := streamOutcome{next: req}
	stream, err := c.stream.Stream(ctx, req)
	if err != nil {
		o.err = err
		return o
	}
	for {
		resp, err := stream.Recv()
		if err != nil {
			if o.next.GetSubmit() != nil {
				// No event arrived, but the job may exist: its id is in the header.
				if md, herr := stream.Header(); herr == nil && len(md.Get(JobIDMetadata)) > 0 {
					o.next = resumeRequest(md.Get(JobIDMetadata)[0], 0)
				}
			}
			if errors.Is(err, io.EOF) {
				err = errEndedEarly
			}
			o.err = err
			return o
		}
		// Events already received are handed out even if the connection has
		// dropped meanwhile: the resume request follows the last one handed out.
		for _, event := range responseEvents(resp) {
			o.next = resumeRequest(event.GetJobId(), event.GetSequence())
			o.events++
			if !yield(event, nil) || isTerminal(event) {
				o.done = true
				return o
			}
		}
	}
}

// responseEvents are a response's events: its batch, or the single `event` of a
// server older than StreamRequest.max_events_per_message.
func responseEvents(resp *jobsvcv1.StreamResponse) []*jobsvcv1.JobEvent {
	if events := resp.GetEvents(); len(events) > 0 {
		return events
	}
	return []*jobsvcv1.JobEvent{resp.GetEvent()}
}

// resumeRequest streams job id's events after sequence after, in batches.
func resumeRequest(id string, after int64) *jobsvcv1.StreamRequest {
	return &jobsvcv1.StreamRequest{
		Target:              &jobsvcv1.StreamRequest_JobId{JobId: id},
		AfterSequence:       after,
		MaxEventsPerMessage: streamEventsPerMessage,
	}
}

// caughtUp reports whether a job's stream that ended cleanly before its terminal
// event has nothing more to send: the job (one GetJob, BASIC view) is finished
// and req resumes at or after its last sequence. False when req names no job yet
// or the GetJob fails (then the stream is resumed as after a dropped connection).
func (c *Client) caughtUp(ctx context.Context, req *jobsvcv1.StreamRequest) bool {
	id := req.GetJobId()
	if id == "" || ctx.Err() != nil {
		return false
	}
	job, err := c.GetView(ctx, id, jobsvcv1.JobView_JOB_VIEW_BASIC)
	if err != nil {
		return false
	}
	return isFinished(job.GetState()) && req.GetAfterSequence() >= job.GetLastSequence()
}

// isFinished reports whether a job state is terminal: succeeded, failed or cancelled.
func isFinished(s jobsvcv1.JobState) bool {
	switch s {
	case jobsvcv1.JobState_JOB_STATE_SUCCEEDED, jobsvcv1.JobState_JOB_STATE_FAILED, jobsvcv1.JobState_JOB_STATE_CANCELLED:
		return true
	}
	return false
}

// resumable tells a dropped connection (worth re-opening) from a real error.
func (c *Client) resumable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	if errors.Is(err, errEndedEarly) {
		return true
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.Internal, codes.Canceled, codes.Aborted:
		return true
	}
	return false
}

// isTerminal reports whether the event is the job's last: succeeded, failed or cancelled.
func isTerminal(e *jobsvcv1.JobEvent) bool {
	return e.GetSucceeded() != nil || e.GetFailed() != nil || e.GetCancelled() != nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
