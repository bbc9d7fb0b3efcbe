package worker_test

import (
	"context"
	"testing"
	"time"

	"github.com/jobsvc/jobsvc/clients/go/internal/testproxy"
	"github.com/jobsvc/jobsvc/clients/go/jobsvc"
	"github.com/jobsvc/jobsvc/clients/go/worker"
)

// TestLiveWorkerReconnects cuts the worker's connection while a job runs: the
// worker must reconnect, keep the job's lease and settle it on the new stream.
func TestLiveWorkerReconnects(t *testing.T) {
	addr, ctx, client := liveServer(t, 60*time.Second)

	proxy := testproxy.Start(t, addr)
	w, err := worker.Dial(ctx, proxy.Addr(), worker.Options{WorkerID: "go-reconnect-test", MinBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	started, release := make(chan struct{}), make(chan struct{})
	w.Handle("go_live_reconnect", "1.0.0", func(ctx context.Context, job *worker.Job) (any, error) {
		close(started)
		select {
		case <-release:
			return "survived", nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
	workerCtx, stopWorker := context.WithCancel(ctx)
	defer stopWorker()
	go func() { _ = w.Run(workerCtx) }()
	waitOnline(ctx, t, client, "go_live_reconnect")

	job, err := client.Submit(ctx, "go_live_reconnect", nil)
	if err != nil {
		t.Fatal(err)
	}
	<-started
	proxy.Cut()
	for proxy.Accepted() < 2 && ctx.Err() == nil { // the worker is back
		time.Sleep(10 * time.Millisecond)
	}
	close(release)

	var result string
	for event, err := range client.Stream(ctx, job.GetId(), 0) {
		if err != nil {
			t.Fatal(err)
		}
		if event.GetSucceeded() != nil {
			_ = jobsvc.DecodePayload(event.GetSucceeded().GetResult(), &result)
		}
		if event.GetRequeued() != nil || event.GetFailed() != nil {
			t.Errorf("the job did not survive the reconnect: %v", event)
		}
	}
	if result != "survived" {
		t.Errorf("result %q", result)
	}
}
