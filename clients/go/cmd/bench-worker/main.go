// Command bench-worker is the remote worker of the benchmark harness's
// e2e_remote_go scenario (python -m bench.run): it serves noop_remote 1.0.0,
// the handler bench/remote_handlers.py declares for the Python workers (no
// input or output schema), returning its input unchanged.
//
//	bench-worker --server 127.0.0.1:50051 --concurrency 128 [--worker-id ID]
//
// It prints READY on stdout once its handler is registered and the session is
// starting, logs only problems, and stops gracefully on SIGINT or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/jobsvc/jobsvc/clients/go/worker"
)

func main() {
	server := flag.String("server", "127.0.0.1:50051", "jobsvc server, host:port")
	concurrency := flag.Int("concurrency", 128, "jobs run at once")
	workerID := flag.String("worker-id", "", "worker id (default hostname:pid)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *server, worker.Options{Concurrency: *concurrency, WorkerID: *workerID}); err != nil {
		log.Fatal(err)
	}
}

// run serves noop_remote against server until ctx is cancelled.
func run(ctx context.Context, server string, opts worker.Options) error {
	w, err := worker.Dial(ctx, server, opts)
	if err != nil {
		return err
	}
	defer w.Close()
	w.Handle("noop_remote", "1.0.0", noop, worker.Description("Returns its input at once (benchmark)"))
	fmt.Println("READY")
	return w.Run(ctx)
}

// noop returns the job's input as its result, as bench/remote_handlers.py's noop_remote does.
func noop(_ context.Context, job *worker.Job) (any, error) {
	return job.Input(), nil
}
