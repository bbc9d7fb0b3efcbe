package jobsvc

import (
	"context"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	jobsvcv1 "github.com/jobsvc/jobsvc/clients/go/gen/jobsvc/v1"
)

// fakeStream serves one job whose events are 1..last: Stream sends those after
// after_sequence, but the first `drains` streams end OK before sending any (a
// server shutting down); GetJob answers the job in `state`.
type fakeStream struct {
	jobsvcv1.UnimplementedStreamServiceServer
	jobsvcv1.UnimplementedJobServiceServer
	last  int64
	state jobsvcv1.JobState
	// batches are each stream's first messages' sizes in `events`; 0 (and every
	// message after them) is one event in `event`, as an older server sends it.
	batches []int
	// dropAfter > 0: the first stream fails UNAVAILABLE right after the message
	// holding that sequence, and closes dropped.
	dropAfter int64
	dropped   chan struct{}

	mu       sync.Mutex
	drains   int
	streams  int
	requests []*jobsvcv1.StreamRequest
	gets     []jobsvcv1.JobView
}

func (f *fakeStream) Stream(req *jobsvcv1.StreamRequest, stream grpc.ServerStreamingServer[jobsvcv1.StreamResponse]) error {
	f.mu.Lock()
	f.streams++
	f.requests = append(f.requests, req)
	drain := f.drains > 0
	f.drains--
	drop := f.dropAfter > 0 && f.streams == 1
	f.mu.Unlock()
	if drain {
		return nil
	}
	for i, seq := 0, req.GetAfterSequence()+1; seq <= f.last; i++ {
		size := 0
		if i < len(f.batches) {
			size = f.batches[i]
		}
		var events []*jobsvcv1.JobEvent
		for ; len(events) < max(size, 1) && seq <= f.last; seq++ {
			events = append(events, f.event(req.GetJobId(), seq))
		}
		resp := &jobsvcv1.StreamResponse{Events: events}
		if size == 0 {
			resp = &jobsvcv1.StreamResponse{Event: events[0]}
		}
		if err := stream.Send(resp); err != nil {
			return err
		}
		if drop && seq > f.dropAfter {
			defer close(f.dropped)
			return status.Error(codes.Unavailable, "connection dropped")
		}
	}
	return nil
}

// event is the job's event seq, the last one succeeded.
func (f *fakeStream) event(id string, seq int64) *jobsvcv1.JobEvent {
	event := &jobsvcv1.JobEvent{JobId: id, Sequence: seq}
	if seq == f.last {
		event.Kind = &jobsvcv1.JobEvent_Succeeded_{Succeeded: &jobsvcv1.JobEvent_Succeeded{}}
	}
	return event
}

func (f *fakeStream) GetJob(_ context.Context, req *jobsvcv1.GetJobRequest) (*jobsvcv1.GetJobResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets = append(f.gets, req.GetView())
	return &jobsvcv1.GetJobResponse{Job: &jobsvcv1.Job{Id: req.GetId(), State: f.state, LastSequence: f.last}}, nil
}

// counts are the Streams opened and the views GetJob was asked for so far.
func (f *fakeStream) counts() (int, []jobsvcv1.JobView) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.streams, append([]jobsvcv1.JobView(nil), f.gets...)
}

func (f *fakeStream) client(t *testing.T) *Client {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	jobsvcv1.RegisterStreamServiceServer(srv, f)
	jobsvcv1.RegisterJobServiceServer(srv, f)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	c, err := Dial(context.Background(), lis.Addr().String(), WithDefaultTimeout(5*time.Second),
		WithStreamResume(ResumePolicy{MaxAttempts: 3, InitialBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func collect(t *testing.T, seq func(func(*jobsvcv1.JobEvent, error) bool)) ([]int64, error) {
	t.Helper()
	var seqs []int64
	var last error
	for event, err := range seq {
		if err != nil {
			last = err
			continue
		}
		seqs = append(seqs, event.GetSequence())
	}
	return seqs, last
}

// Events come batched in `events` or one in `event` (an older server) and are
// handed out one by one, in order. When the connection drops while the caller
// still handles a batch, the rest of that batch comes out first, and the resume
// asks again for batches after the last sequence handed out.
func TestStreamHandsOutBatchesOneByOneAndResumesAfterTheLastHandedOut(t *testing.T) {
	t.Parallel()
	f := &fakeStream{last: 12, batches: []int{3, 0, 3, 2}, dropAfter: 7, dropped: make(chan struct{})}
	var seqs []int64
	for event, err := range f.client(t).Stream(context.Background(), "j1", 0) {
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, event.GetSequence())
		if event.GetSequence() == 5 { // the first of the batch 5..7, after which the stream drops
			select {
			case <-f.dropped:
			case <-time.After(5 * time.Second):
				t.Fatal("the fake never dropped the stream")
			}
		}
	}
	if want := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}; !slices.Equal(seqs, want) {
		t.Fatalf("events %v, want %v", seqs, want)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.requests) != 2 {
		t.Fatalf("%d streams, want 2", len(f.requests))
	}
	for i, after := range []int64{0, 7} {
		if r := f.requests[i]; r.GetAfterSequence() != after || r.GetMaxEventsPerMessage() != streamEventsPerMessage {
			t.Errorf("stream %d asked after %d for %d a message, want after %d and %d",
				i+1, r.GetAfterSequence(), r.GetMaxEventsPerMessage(), after, streamEventsPerMessage)
		}
	}
}

// A stream resumed after a finished job's last event ends OK with nothing: one
// GetJob (BASIC view) says there is nothing more, so the iteration ends cleanly.
func TestStreamAfterTheLastEventEnds(t *testing.T) {
	t.Parallel()
	f := &fakeStream{last: 4, state: jobsvcv1.JobState_JOB_STATE_SUCCEEDED}
	seqs, err := collect(t, f.client(t).Stream(context.Background(), "j1", 4))
	if err != nil || len(seqs) != 0 {
		t.Fatalf("events %v, error %v: want none and no error", seqs, err)
	}
	if streams, gets := f.counts(); streams != 1 || len(gets) != 1 || gets[0] != jobsvcv1.JobView_JOB_VIEW_BASIC {
		t.Errorf("%d streams and GetJob views %v, want 1 stream and one BASIC GetJob", streams, gets)
	}
}

// A server that ends the stream early while the job runs (draining) is resumed.
func TestStreamEndedEarlyOnARunningJobResumes(t *testing.T) {
	t.Parallel()
	f := &fakeStream{last: 3, state: jobsvcv1.JobState_JOB_STATE_RUNNING, drains: 2}
	seqs, err := collect(t, f.client(t).Stream(context.Background(), "j1", 0))
	if err != nil || len(seqs) != 3 || seqs[2] != 3 {
		t.Fatalf("events %v, error %v: want 1..3", seqs, err)
	}
	if streams, gets := f.counts(); streams != 3 || len(gets) != 2 {
		t.Errorf("%d streams, %d GetJobs: want 3 and 2", streams, len(gets))
	}
}

// A finished job whose events the early end left unsent is resumed too.
func TestStreamEndedEarlyBeforeAFinishedJobsLastEventResumes(t *testing.T) {
	t.Parallel()
	f := &fakeStream{last: 3, state: jobsvcv1.JobState_JOB_STATE_FAILED, drains: 1}
	seqs, err := collect(t, f.client(t).Stream(context.Background(), "j1", 1))
	if err != nil || len(seqs) != 2 || seqs[0] != 2 {
		t.Fatalf("events %v, error %v: want 2..3", seqs, err)
	}
}

// A server that keeps ending early on a running job still gives up after the policy.
func TestStreamEndedEarlyGivesUpAfterThePolicy(t *testing.T) {
	t.Parallel()
	f := &fakeStream{last: 3, state: jobsvcv1.JobState_JOB_STATE_RUNNING, drains: 100}
	seqs, err := collect(t, f.client(t).Stream(context.Background(), "j1", 0))
	if len(seqs) != 0 || err != errEndedEarly {
		t.Fatalf("events %v, error %v: want %v", seqs, err, errEndedEarly)
	}
	if streams, _ := f.counts(); streams != 4 {
		t.Errorf("%d streams, want 4 (3 resumes)", streams)
	}
}
