// Command jobsvc-call calls a handler through the Go client and prints the job's
// result as JSON: a small command-line tool, and the Go side of the cross-language
// tests (tests/clients/test_cross_language.py).
//
//	jobsvc-call --server 127.0.0.1:50051 [--version ^1] [--timeout 30s] [--token T] HANDLER [INPUT_JSON]
//
// The token (a jobsvc token with the call scope) defaults to $JOBSVC_TOKEN.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/jobsvc/jobsvc/clients/go/jobsvc"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "jobsvc-call:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	flags := flag.NewFlagSet("jobsvc-call", flag.ContinueOnError)
	server := flags.String("server", os.Getenv("JOBSVC_SERVER"), "host:port of a jobsvc server")
	version := flags.String("version", "", "version selector")
	timeout := flags.Duration("timeout", 30*time.Second, "how long to wait for the result")
	token := flags.String("token", os.Getenv("JOBSVC_TOKEN"), "bearer token with the call scope (env JOBSVC_TOKEN)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if flags.NArg() < 1 {
		return errors.New("usage: jobsvc-call [flags] HANDLER [INPUT_JSON]")
	}
	var input any
	if flags.NArg() > 1 {
		if err := json.Unmarshal([]byte(flags.Arg(1)), &input); err != nil {
			return fmt.Errorf("input is not JSON: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	var opts []jobsvc.Option
	if *token != "" {
		opts = append(opts, jobsvc.WithBearerToken(*token))
	}
	client, err := jobsvc.Dial(ctx, *server, opts...)
	if err != nil {
		return err
	}
	defer client.Close()
	result, err := client.Call(ctx, flags.Arg(0), input, jobsvc.Version(*version))
	if err != nil {
		return err
	}
	var out any
	if err := result.Decode(&out); err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"job_id": result.Job.GetId(), "version": result.Job.GetVersion(), "result": out,
	})
}
