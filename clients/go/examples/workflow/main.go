// Command workflow runs one workflow from Go on the jobsvc server in
// JOBSVC_SERVER: three steps on remote workers in other languages, joined by a
// step of the server's own Python handlers, and prints the join's result as JSON.
//
//	JOBSVC_SERVER=127.0.0.1:50051 go run ./examples/workflow "polyglot jobs"
//
// The steps: ts_reverse (the TypeScript example worker), java_title (the Java
// example worker), go_upper (the Go example worker), each given the text; then
// echo (tests/handlers.py) takes their results under reversed, titled and upper.
// tests/clients/test_cross_language.py runs it with those workers.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/jobsvc/jobsvc/clients/go/jobsvc"
)

func main() {
	text := "polyglot jobs"
	if len(os.Args) > 1 {
		text = os.Args[1]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	client, err := jobsvc.Dial(ctx, os.Getenv("JOBSVC_SERVER"))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	wf := jobsvc.NewWorkflow("polyglot-go")
	wf.Step("rev", "ts_reverse", text)
	wf.Step("title", "java_title", text)
	wf.Step("upper", "go_upper", text)
	wf.Step("join", "echo", map[string]any{"driver": "go"}).
		Input("reversed", "rev", "").Input("titled", "title", "").Input("upper", "upper", "")
	done, err := client.CallWorkflow(ctx, wf)
	if err != nil {
		log.Fatal(err)
	}
	var joined map[string]any
	if err := done.Decode("join", &joined); err != nil {
		log.Fatal(err)
	}
	out, _ := json.Marshal(map[string]any{
		"workflow_id": done.Workflow.GetId(), "state": done.Workflow.GetState().String(), "result": joined,
	})
	fmt.Println(string(out))
}
