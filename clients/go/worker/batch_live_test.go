package worker_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"

	jobsvcv1 "github.com/jobsvc/jobsvc/clients/go/gen/jobsvc/v1"
	"github.com/jobsvc/jobsvc/clients/go/jobsvc"
	"github.com/jobsvc/jobsvc/clients/go/worker"
)

// workCounter counts, on the worker's Work stream, the batches sent and the
// batched messages received.
type workCounter struct {
	sentBatches, batchItems, receivedBatches atomic.Int64
}

type countingStream struct {
	grpc.ClientStream
	c *workCounter
}

func (s *countingStream) SendMsg(m any) error {
	if b := m.(*jobsvcv1.WorkRequest).GetBatch(); b != nil {
		s.c.sentBatches.Add(1)
		s.c.batchItems.Add(int64(len(b.GetItems())))
	}
	return s.ClientStream.SendMsg(m)
}

func (s *countingStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if r, ok := m.(*jobsvcv1.WorkResponse); ok && err == nil && (r.GetAssignments() != nil || r.GetSettledBatch() != nil) {
		s.c.receivedBatches.Add(1)
	}
	return err
}

func (c *workCounter) interceptor(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string,
	streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	s, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil || method != jobsvcv1.AckService_Work_FullMethodName {
		return s, err
	}
	return &countingStream{ClientStream: s, c: c}, nil
}

// TestLiveWorkerBatches runs a few hundred jobs (with progress reports, and a
// failed first attempt for some) through one worker of concurrency 64 on the
// live server in JOBSVC_SERVER, which accepts batches: every job must succeed
// with its own result.
func TestLiveWorkerBatches(t *testing.T) {
	const jobs = 400
	addr, ctx, client := liveServer(t, 90*time.Second)

	counter := &workCounter{}
	w, err := worker.Dial(ctx, addr, worker.Options{WorkerID: "go-batch-test", Concurrency: 64},
		jobsvc.WithDialOptions(grpc.WithStreamInterceptor(counter.interceptor)))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.Handle("go_live_batches", "1.0.0", func(ctx context.Context, job *worker.Job) (any, error) {
		var n int
		if err := job.Decode(&n); err != nil {
			return nil, worker.NonRetryable(err)
		}
		job.Progress(50, fmt.Sprintf("job %d", n))
		time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
		if n%10 == 0 && job.Attempt() == 1 {
			return nil, worker.RetryAfter(errors.New("first attempt fails"), 10*time.Millisecond)
		}
		return map[string]int{"double": 2 * n}, nil
	})
	workerCtx, stopWorker := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() { stopped <- w.Run(workerCtx) }()
	waitOnline(ctx, t, client, "go_live_batches")

	want := map[string]int{} // job id: its input
	for start := 0; start < jobs; start += 100 {
		var specs []*jobsvcv1.JobSpec
		for n := start; n < start+100; n++ {
			spec, err := jobsvc.NewSpec("go_live_batches", n, jobsvc.MaxAttempts(3))
			if err != nil {
				t.Fatal(err)
			}
			specs = append(specs, spec)
		}
		submitted, err := client.SubmitBatch(ctx, specs...)
		if err != nil {
			t.Fatal(err)
		}
		for i, job := range submitted {
			want[job.GetId()] = start + i
		}
	}

	for _, id := range waitFinished(ctx, t, client, want) {
		job, err := client.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var out map[string]int
		n := want[id]
		wantAttempts := int32(1)
		if n%10 == 0 {
			wantAttempts = 2
		}
		if job.GetState() != jobsvcv1.JobState_JOB_STATE_SUCCEEDED {
			t.Errorf("job %s (input %d) ended %v: %v", id, n, job.GetState(), job.GetAttemptErrors())
		} else if err := jobsvc.DecodePayload(job.GetResult(), &out); err != nil || out["double"] != 2*n {
			t.Errorf("job %s (input %d): result %v, %v", id, n, out, err)
		} else if job.GetAttempt() != wantAttempts {
			t.Errorf("job %s (input %d): %d attempts, want %d", id, n, job.GetAttempt(), wantAttempts)
		}
	}
	t.Logf("%d jobs; the worker sent %d batches (%d reports), received %d batched messages",
		jobs, counter.sentBatches.Load(), counter.batchItems.Load(), counter.receivedBatches.Load())

	stopWorker()
	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Error("Run did not return after its context was cancelled")
	}
}

// waitFinished waits until every job in ids has ended (succeeded or failed)
// and returns their ids.
func waitFinished(ctx context.Context, t *testing.T, client *jobsvc.Client, ids map[string]int) []string {
	t.Helper()
	terminal := []jobsvcv1.JobState{
		jobsvcv1.JobState_JOB_STATE_SUCCEEDED, jobsvcv1.JobState_JOB_STATE_FAILED, jobsvcv1.JobState_JOB_STATE_CANCELLED,
	}
	for {
		done := map[string]bool{}
		opts := jobsvc.ListOptions{Handler: "go_live_batches", States: terminal, PageSize: 1000, View: jobsvcv1.JobView_JOB_VIEW_BASIC}
		for job, err := range client.ListAll(ctx, opts) {
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := ids[job.GetId()]; ok {
				done[job.GetId()] = true
			}
		}
		if len(done) == len(ids) {
			finished := make([]string, 0, len(done))
			for id := range done {
				finished = append(finished, id)
			}
			return finished
		}
		if ctx.Err() != nil {
			t.Fatalf("%d of %d jobs finished in time", len(done), len(ids))
		}
		time.Sleep(200 * time.Millisecond)
	}
}
