package worker_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/jobsvc/jobsvc/clients/go/jobsvc"
	"github.com/jobsvc/jobsvc/clients/go/worker"
)

// TestLiveWorker serves handlers to the live server in JOBSVC_SERVER and runs
// jobs on them through the client: results, retries, failures and cancellation.
func TestLiveWorker(t *testing.T) {
	_, ctx, client := liveServer(t, 60*time.Second)

	w := worker.New(client, worker.Options{WorkerID: "go-live-test", Concurrency: 4, LeaseDuration: 10 * time.Second})
	w.Handle("go_live_flaky", "1.0.0", func(ctx context.Context, job *worker.Job) (any, error) {
		if job.Attempt() == 1 {
			return nil, worker.RetryAfter(errors.New("first attempt fails"), 10*time.Millisecond)
		}
		return map[string]int32{"attempt": job.Attempt()}, nil
	})
	w.Handle("go_live_fail", "1.0.0", func(ctx context.Context, job *worker.Job) (any, error) {
		return nil, worker.NonRetryable(worker.NewError("ValueError", "nope"))
	})
	causes := make(chan error, 1)
	w.Handle("go_live_block", "1.0.0", func(ctx context.Context, job *worker.Job) (any, error) {
		job.Progress(10, "waiting")
		<-ctx.Done()
		causes <- context.Cause(ctx)
		return nil, ctx.Err()
	})
	workerCtx, stopWorker := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() { stopped <- w.Run(workerCtx) }()
	for _, name := range []string{"go_live_flaky", "go_live_fail", "go_live_block"} {
		waitOnline(ctx, t, client, name)
	}

	t.Run("retry", func(t *testing.T) {
		result, err := client.Call(ctx, "go_live_flaky", nil)
		if err != nil {
			t.Fatal(err)
		}
		var out map[string]int
		if err := result.Decode(&out); err != nil || out["attempt"] != 2 {
			t.Errorf("result %v, %v", out, err)
		}
		if errs := result.Job.GetAttemptErrors(); len(errs) != 1 || errs[0].GetType() != "errors.errorString" {
			t.Errorf("attempt errors %v", errs)
		}
	})

	t.Run("failure", func(t *testing.T) {
		_, err := client.Call(ctx, "go_live_fail", nil)
		var failed *jobsvc.JobFailedError
		if !errors.As(err, &failed) || failed.Type != "ValueError" || failed.Message != "nope" || failed.Attempt != 1 {
			t.Errorf("got %v", err)
		}
	})

	t.Run("cancel", func(t *testing.T) {
		job, err := client.Submit(ctx, "go_live_block", nil)
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for event, err := range client.Stream(ctx, job.GetId(), 0) {
			if err != nil {
				t.Fatal(err)
			}
			if event.GetProgress() != nil {
				kinds = append(kinds, "progress")
				if _, err := client.Cancel(ctx, job.GetId(), "test"); err != nil {
					t.Fatal(err)
				}
			}
			if event.GetCancelled() != nil {
				kinds = append(kinds, "cancelled")
			}
		}
		if len(kinds) != 2 || kinds[1] != "cancelled" {
			t.Errorf("events %v", kinds)
		}
		select {
		case cause := <-causes:
			if cause == nil {
				t.Error("no cause")
			}
		case <-time.After(10 * time.Second):
			t.Error("the handler's context was not cancelled")
		}
	})

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

// liveServer is the address of the live server in JOBSVC_SERVER (the test skips
// without one), a context that ends after timeout, and a client of the server;
// the test's end releases them.
func liveServer(t *testing.T, timeout time.Duration) (string, context.Context, *jobsvc.Client) {
	t.Helper()
	addr := os.Getenv("JOBSVC_SERVER")
	if addr == "" {
		t.Skip("JOBSVC_SERVER is not set: no live jobsvc server to test against")
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	client, err := jobsvc.Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return addr, ctx, client
}

func waitOnline(ctx context.Context, t *testing.T, client *jobsvc.Client, name string) {
	t.Helper()
	for ctx.Err() == nil {
		handlers, err := client.Handlers(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if len(handlers) > 0 && handlers[0].GetOnline() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never came online", name)
}
