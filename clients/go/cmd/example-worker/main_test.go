package main

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jobsvc/jobsvc/clients/go/jobsvc"
)

// TestExampleWorker runs the worker against the live server in JOBSVC_SERVER and
// calls go_upper through the client.
func TestExampleWorker(t *testing.T) {
	addr := os.Getenv("JOBSVC_SERVER")
	if addr == "" {
		t.Skip("JOBSVC_SERVER is not set: no live jobsvc server to test against")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	workerCtx, stopWorker := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() { stopped <- run(workerCtx, addr, 2) }()
	defer func() {
		stopWorker()
		if err := <-stopped; err != nil {
			t.Errorf("worker: %v", err)
		}
	}()

	client, err := jobsvc.Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	waitOnline(ctx, t, client, "go_upper", "1.0.0")

	result, err := client.Call(ctx, "go_upper", "hello from go", jobsvc.Version("1.0.0"))
	if err != nil {
		t.Fatal(err)
	}
	var out string
	if err := result.Decode(&out); err != nil || out != "HELLO FROM GO" {
		t.Fatalf("result %q, %v", out, err)
	}
	var percents []float64
	for event, err := range client.Stream(ctx, result.Job.GetId(), 0) {
		if err != nil {
			t.Fatal(err)
		}
		if p := event.GetProgress(); p != nil {
			percents = append(percents, p.GetPercent())
		}
	}
	if len(percents) != 2 || percents[0] != 50 || percents[1] != 100 {
		t.Errorf("progress %v, want [50 100]", percents)
	}

	_, err = client.Call(ctx, "go_upper", 42)
	if d, _ := jobsvc.ErrorDetails(err); d.FieldViolations == nil {
		t.Errorf("a number is not a string: want a schema violation, got %v", err)
	}
}

func waitOnline(ctx context.Context, t *testing.T, client *jobsvc.Client, name, version string) {
	t.Helper()
	for ctx.Err() == nil {
		handlers, err := client.Handlers(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range handlers {
			if h.GetVersion() == version && h.GetOnline() {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s %s never came online", name, version)
}
