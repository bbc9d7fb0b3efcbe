// Command example-worker is a jobsvc remote worker serving the handler go_upper
// 1.0.0: its input is a JSON string, its result the string upper-cased. It
// reports progress 50, then 100.
//
//	example-worker --server 127.0.0.1:50051 [--token TOKEN]
//
// The token (a jobsvc token with the work scope) defaults to $JOBSVC_TOKEN.
// It stops gracefully on SIGINT or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/jobsvc/jobsvc/clients/go/jobsvc"
	"github.com/jobsvc/jobsvc/clients/go/worker"
)

func main() {
	server := flag.String("server", envOr("JOBSVC_SERVER", "127.0.0.1:50051"), "jobsvc server, host:port")
	concurrency := flag.Int("concurrency", 4, "jobs run at once")
	token := flag.String("token", os.Getenv("JOBSVC_TOKEN"), "bearer token with the work scope (env JOBSVC_TOKEN)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var dialOpts []jobsvc.Option
	if *token != "" {
		dialOpts = append(dialOpts, jobsvc.WithBearerToken(*token))
	}
	if err := run(ctx, *server, *concurrency, dialOpts...); err != nil {
		log.Fatal(err)
	}
}

// run serves go_upper against server until ctx is cancelled.
func run(ctx context.Context, server string, concurrency int, dialOpts ...jobsvc.Option) error {
	w, err := worker.Dial(ctx, server, worker.Options{Concurrency: concurrency}, dialOpts...)
	if err != nil {
		return err
	}
	defer w.Close()
	w.Handle("go_upper", "1.0.0", upper,
		worker.Description("Upper-cases a string (Go example worker)"),
		worker.InputSchema(map[string]any{"type": "string"}))
	log.Printf("serving go_upper 1.0.0 against %s", server)
	return w.Run(ctx)
}

// upper is the go_upper handler.
func upper(ctx context.Context, job *worker.Job) (any, error) {
	var s string
	if err := job.Decode(&s); err != nil {
		return nil, worker.NonRetryable(worker.NewError("TypeError", fmt.Sprintf("input must be a JSON string: %v", err)))
	}
	job.Progress(50, "upper-casing")
	result := strings.ToUpper(s)
	job.Progress(100, "done")
	return result, nil
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
