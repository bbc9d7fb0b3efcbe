package jobsvc_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	jobsvcv1 "github.com/jobsvc/jobsvc/clients/go/gen/jobsvc/v1"
	"github.com/jobsvc/jobsvc/clients/go/internal/testproxy"
	"github.com/jobsvc/jobsvc/clients/go/jobsvc"
)

// TestLiveStreamResumes cuts the connection under a stream after its third event:
// the library must reconnect and resume, so that the test sees every sequence
// number exactly once, in order.
func TestLiveStreamResumes(t *testing.T) {
	t.Parallel()
	proxy := testproxy.Start(t, serverAddress(t))
	c := dial(t, proxy.Addr(), jobsvc.WithStreamResume(jobsvc.ResumePolicy{
		MaxAttempts: 20, InitialBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond,
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	const steps = 6
	var events []*jobsvcv1.JobEvent
	for event, err := range c.SubmitAndStream(ctx, "steps", map[string]any{"count": steps, "pause": 0.2}) {
		if err != nil {
			t.Fatalf("after %d events: %v", len(events), err)
		}
		events = append(events, event)
		if len(events) == 3 {
			proxy.Cut()
		}
	}
	if proxy.Accepted() < 2 {
		t.Errorf("the stream was not re-opened (%d connections)", proxy.Accepted())
	}
	// queued, started, progress + partial output per step, succeeded.
	if want := 2 + 2*steps + 1; len(events) != want {
		t.Errorf("%d events, want %d", len(events), want)
	}
	for i, event := range events {
		if event.GetSequence() != int64(i+1) {
			t.Fatalf("event %d has sequence %d: a gap or a duplicate", i, event.GetSequence())
		}
		if event.GetJobId() != events[0].GetJobId() {
			t.Fatalf("event %d is of job %s", i, event.GetJobId())
		}
	}
	last := events[len(events)-1]
	var result map[string]int
	if err := jobsvc.DecodePayload(last.GetSucceeded().GetResult(), &result); err != nil || result["steps"] != steps {
		t.Errorf("terminal event %v: %v", last, err)
	}
}

// TestLiveStreamAfterSequence attaches to a finished job part way through its log.
func TestLiveStreamAfterSequence(t *testing.T) {
	c := liveClient(t)
	ctx := context.Background()
	result, err := c.Call(ctx, "steps", map[string]any{"count": 2})
	if err != nil {
		t.Fatal(err)
	}
	var seqs []int64
	for event, err := range c.Stream(ctx, result.Job.GetId(), 3) {
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, event.GetSequence())
	}
	if len(seqs) == 0 || seqs[0] != 4 || seqs[len(seqs)-1] != result.Job.GetLastSequence() {
		t.Errorf("sequences %v, want 4..%d", seqs, result.Job.GetLastSequence())
	}
	// Breaking out of the loop early ends the stream.
	for event, err := range c.Stream(ctx, result.Job.GetId(), 0) {
		if err != nil || event.GetSequence() != 1 {
			t.Fatalf("%v %v", event, err)
		}
		break
	}
}

// TestLiveStreamResumedAtTheEnd resumes a finished job's stream right after its
// last event, as a process that saved the terminal event's sequence would: the
// iteration ends at once, with no event and no error. Resuming beyond the last
// event is OUT_OF_RANGE, not retried.
func TestLiveStreamResumedAtTheEnd(t *testing.T) {
	c := liveClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	job, err := c.Submit(ctx, "steps", map[string]any{"count": 1})
	if err != nil {
		t.Fatal(err)
	}
	for job.GetState() != jobsvcv1.JobState_JOB_STATE_SUCCEEDED {
		if job, err = c.GetView(ctx, job.GetId(), jobsvcv1.JobView_JOB_VIEW_BASIC); err != nil {
			t.Fatal(err)
		}
		if s := job.GetState(); s == jobsvcv1.JobState_JOB_STATE_FAILED || s == jobsvcv1.JobState_JOB_STATE_CANCELLED {
			t.Fatalf("job ended %v", s)
		}
		time.Sleep(50 * time.Millisecond)
	}
	last := job.GetLastSequence()
	if last == 0 {
		t.Fatalf("finished job with no last sequence: %v", job)
	}

	// Without the end-of-job check this took the resume policy's ten re-opens
	// (many seconds) and then failed with "ended before the terminal event".
	start := time.Now()
	for event, err := range c.Stream(ctx, job.GetId(), last) {
		t.Fatalf("resumed at the last sequence %d: got %v, %v; want the iteration to end", last, event, err)
	}
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("the resumed stream took %v to end", elapsed)
	}

	start = time.Now()
	var errs []error
	for event, err := range c.Stream(ctx, job.GetId(), last+5) {
		if err == nil {
			t.Fatalf("after_sequence %d: got event %v", last+5, event)
		}
		errs = append(errs, err)
	}
	if len(errs) != 1 {
		t.Fatalf("after_sequence %d: errors %v, want one", last+5, errs)
	}
	d, ok := jobsvc.ErrorDetails(errs[0])
	if !ok || d.Code != codes.OutOfRange || d.Reason != "SEQUENCE_NOT_REACHED" ||
		d.Metadata["last_sequence"] != strconv.FormatInt(last, 10) {
		t.Errorf("after_sequence %d: %+v (%v), want OUT_OF_RANGE SEQUENCE_NOT_REACHED last_sequence=%d", last+5, d, errs[0], last)
	}
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("OUT_OF_RANGE took %v: was it retried?", elapsed)
	}
}
