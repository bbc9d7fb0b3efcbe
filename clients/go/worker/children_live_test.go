package worker_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jobsvc/jobsvc/clients/go/jobsvc"
	"github.com/jobsvc/jobsvc/clients/go/worker"
)

// TestLiveChildren runs a parent on a one-slot worker that spawns two children,
// waits for them (parked: the children take its slot meanwhile), sleeps
// durably and returns the children's results; and a spawn of an unknown handler.
func TestLiveChildren(t *testing.T) {
	_, ctx, client := liveServer(t, 60*time.Second)

	w := worker.New(client, worker.Options{WorkerID: "go-children-test", Concurrency: 1, LeaseDuration: 10 * time.Second})
	w.Handle("go_child_square", "1.0.0", func(ctx context.Context, job *worker.Job) (any, error) {
		var in struct {
			X int `json:"x"`
		}
		if err := job.Decode(&in); err != nil {
			return nil, err
		}
		return in.X * in.X, nil
	})
	w.Handle("go_child_parent", "1.0.0", func(ctx context.Context, job *worker.Job) (any, error) {
		var kids []worker.Child
		for _, x := range []int{2, 3} {
			kid, err := job.Spawn(ctx, "go_child_square", map[string]int{"x": x})
			if err != nil {
				return nil, err
			}
			kids = append(kids, kid)
		}
		results, err := job.Wait(ctx, kids)
		if err != nil {
			return nil, err // parked (worker.IsParked): returned as it is
		}
		if err := job.Sleep(ctx, 200*time.Millisecond); err != nil {
			return nil, err
		}
		sum := 0
		for _, r := range results {
			var n int
			if err := jobsvc.DecodePayload(r, &n); err != nil {
				return nil, err
			}
			sum += n
		}
		return map[string]int{"sum": sum}, nil
	})
	w.Handle("go_child_unknown", "1.0.0", func(ctx context.Context, job *worker.Job) (any, error) {
		_, err := job.Spawn(ctx, "no_such_handler", nil)
		return nil, err
	})
	workerCtx, stopWorker := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() { stopped <- w.Run(workerCtx) }()
	for _, name := range []string{"go_child_square", "go_child_parent", "go_child_unknown"} {
		waitOnline(ctx, t, client, name)
	}

	t.Run("spawn, wait and sleep", func(t *testing.T) {
		result, err := client.Call(ctx, "go_child_parent", nil)
		if err != nil {
			t.Fatal(err)
		}
		var out map[string]int
		if err := result.Decode(&out); err != nil || out["sum"] != 13 {
			t.Errorf("result %v, %v", out, err)
		}
		if result.Job.GetAttempt() != 1 {
			t.Errorf("parking used attempts: attempt %d", result.Job.GetAttempt())
		}
	})

	t.Run("unknown handler", func(t *testing.T) {
		_, err := client.Call(ctx, "go_child_unknown", nil)
		var failed *jobsvc.JobFailedError
		if !errors.As(err, &failed) || failed.Type != "jobsvc.SpawnRefused" || failed.Attempt != 1 {
			t.Errorf("got %v", err)
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
