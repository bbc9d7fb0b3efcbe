package jobsvc_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	jobsvcv1 "github.com/jobsvc/jobsvc/clients/go/gen/jobsvc/v1"
	"github.com/jobsvc/jobsvc/clients/go/internal/testproxy"
	"github.com/jobsvc/jobsvc/clients/go/jobsvc"
)

// A diamond with a fan-out and an optional step that fails: inputs arrive where
// declared, and CallWorkflow answers with the sink's result.
func TestLiveCallWorkflow(t *testing.T) {
	c := liveClient(t)
	wf := jobsvc.NewWorkflow("go-diamond").Labels(map[string]string{"test": t.Name()})
	wf.Step("fetch", "echo", map[string]any{"size": 3, "owner": map[string]any{"name": "ada"}, "items": []int{1, 2, 3}})
	wf.Step("measure", "echo", map[string]any{"unit": "px"}).Input("size", "fetch", "size")
	wf.Step("each", "echo", map[string]any{}).Map("fetch", "items", "n", 10)
	wf.Step("soft", "fail", nil).Optional()
	wf.Step("report", "echo", map[string]any{"final": true}).
		Merge("measure", "").Input("who", "fetch", "owner.name").Input("each", "each", "").Input("soft", "soft", "")
	out, err := c.CallWorkflow(context.Background(), wf)
	if err != nil {
		t.Fatal(err)
	}
	if !out.Succeeded() || len(out.Outputs) != 1 || out.Workflow.GetLabels()["test"] != t.Name() {
		t.Fatalf("CallWorkflow: %v", out.Workflow)
	}
	var report struct {
		Final bool
		Unit  string
		Size  int
		Who   string
		Each  []map[string]int
		Soft  map[string]map[string]any
	}
	if err := out.Decode("report", &report); err != nil {
		t.Fatal(err)
	}
	want := []map[string]int{{"n": 1}, {"n": 2}, {"n": 3}}
	if !report.Final || report.Unit != "px" || report.Size != 3 || report.Who != "ada" || !reflect.DeepEqual(report.Each, want) {
		t.Errorf("report = %+v", report)
	}
	if report.Soft["error"]["message"] == nil {
		t.Errorf("the optional step's error is not in its place: %+v", report.Soft)
	}
	got, err := c.GetWorkflow(context.Background(), out.Workflow.GetId(), jobsvcv1.JobView_JOB_VIEW_BASIC)
	if err != nil || got.GetStepsTotal() != 8 || got.GetStepsFinished() != 8 { // 5 steps and 3 elements
		t.Fatalf("GetWorkflow: %v, %v", got, err)
	}
}

// Submit, Stream (from the start, then resumed after a sequence), Cancel, Get,
// List, and a refused workflow's field violation.
func TestLiveWorkflowStreamAndCancel(t *testing.T) {
	c := liveClient(t)
	ctx := context.Background()
	wf := jobsvc.NewWorkflow("go-cancel")
	wf.Step("forever", "wait_cancel", nil)
	wf.Step("after", "echo", map[string]any{}).Input("got", "forever", "")
	submitted, err := c.SubmitWorkflow(ctx, wf)
	if err != nil || submitted.GetState() != jobsvcv1.WorkflowState_WORKFLOW_STATE_RUNNING {
		t.Fatalf("SubmitWorkflow: %v, %v", submitted, err)
	}
	id := submitted.GetId()
	var seen []string
	for event, err := range c.StreamWorkflow(ctx, id, 0) {
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, event.GetStep()+":"+kind(event.GetEvent()))
		if event.GetEvent().GetStarted() != nil {
			if _, err := c.CancelWorkflow(ctx, id, "enough"); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The waiting step is cancelled at once, the running one when its handler has stopped.
	if n := len(seen); n < 3 || !slices.Contains(seen[n-2:], "forever:cancelled") || !slices.Contains(seen[n-2:], "after:cancelled") {
		t.Fatalf("events %v", seen)
	}
	var rest []int64
	for event, err := range c.StreamWorkflow(ctx, id, int64(len(seen)-1)) {
		if err != nil {
			t.Fatal(err)
		}
		rest = append(rest, event.GetSequence())
	}
	if !reflect.DeepEqual(rest, []int64{int64(len(seen))}) {
		t.Errorf("resumed after %d: %v", len(seen)-1, rest)
	}
	got, err := c.GetWorkflow(ctx, id, jobsvcv1.JobView_JOB_VIEW_UNSPECIFIED)
	if err != nil || got.GetState() != jobsvcv1.WorkflowState_WORKFLOW_STATE_CANCELLED || got.GetCancelReason() != "enough" {
		t.Fatalf("GetWorkflow: %v, %v", got, err)
	}
	page, err := c.ListWorkflows(ctx, 100, "")
	if err != nil || !containsWorkflow(page.GetWorkflows(), id) {
		t.Fatalf("ListWorkflows: %v, %v", page, err)
	}

	cyclic := jobsvc.NewWorkflow("go-cycle")
	cyclic.Step("a", "echo", nil).DependsOn("b")
	cyclic.Step("b", "echo", nil).DependsOn("a")
	_, err = c.SubmitWorkflow(ctx, cyclic)
	if details, ok := jobsvc.ErrorDetails(err); !ok || details.Code != codes.InvalidArgument ||
		len(details.FieldViolations) == 0 || details.FieldViolations[0].Field != "steps[0].depends_on" {
		t.Fatalf("a cycle: %v", err)
	}
}

func kind(e *jobsvcv1.JobEvent) string {
	switch {
	case e.GetQueued() != nil:
		return "queued"
	case e.GetStarted() != nil:
		return "started"
	case e.GetSucceeded() != nil:
		return "succeeded"
	case e.GetFailed() != nil:
		return "failed"
	case e.GetCancelled() != nil:
		return "cancelled"
	}
	return "other"
}

func containsWorkflow(workflows []*jobsvcv1.Workflow, id string) bool {
	for _, w := range workflows {
		if w.GetId() == id {
			return true
		}
	}
	return false
}

// A workflow's stream cut mid-way is re-opened after the last sequence seen:
// every event once, 1, 2, 3, ... without a gap.
func TestLiveStreamWorkflowResumes(t *testing.T) {
	t.Parallel()
	proxy := testproxy.Start(t, serverAddress(t))
	c := dial(t, proxy.Addr(), jobsvc.WithStreamResume(jobsvc.ResumePolicy{
		MaxAttempts: 20, InitialBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond,
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	wf := jobsvc.NewWorkflow("go-resume")
	wf.Step("slow", "steps", map[string]any{"count": 4, "pause": 0.2})
	wf.Step("after", "echo", map[string]any{}).Input("slow", "slow", "")
	submitted, err := c.SubmitWorkflow(ctx, wf)
	if err != nil {
		t.Fatal(err)
	}
	var sequences []int64
	for event, err := range c.StreamWorkflow(ctx, submitted.GetId(), 0) {
		if err != nil {
			t.Fatalf("after %d events: %v", len(sequences), err)
		}
		sequences = append(sequences, event.GetSequence())
		if len(sequences) == 3 {
			proxy.Cut()
		}
	}
	if proxy.Accepted() < 2 {
		t.Errorf("the stream was not re-opened (%d connections)", proxy.Accepted())
	}
	for i, seq := range sequences {
		if seq != int64(i+1) {
			t.Fatalf("event %d has sequence %d: a gap or a duplicate (%v)", i, seq, sequences)
		}
	}
	// slow: queued, started, 4 x (progress, partial output), succeeded; after: queued, started, succeeded.
	if want := 2 + 2*4 + 1 + 3; len(sequences) != want {
		t.Errorf("%d events, want %d", len(sequences), want)
	}
}

// A CallWorkflow whose deadline passes names the workflow, which carries on.
func TestLiveCallWorkflowDeadline(t *testing.T) {
	c := liveClient(t)
	wf := jobsvc.NewWorkflow("go-deadline")
	wf.Step("forever", "wait_cancel", nil)
	// Long enough for the submit to commit on a loaded machine (the workflow id comes
	// back first); the step runs until cancelled, so the deadline always passes.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := c.CallWorkflow(ctx, wf)
	var callErr *jobsvc.WorkflowCallError
	if !errors.As(err, &callErr) || status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("CallWorkflow past its deadline: %v", err)
	}
	still, err := c.GetWorkflow(context.Background(), callErr.WorkflowID, jobsvcv1.JobView_JOB_VIEW_BASIC)
	if err != nil || still.GetState() != jobsvcv1.WorkflowState_WORKFLOW_STATE_RUNNING {
		t.Fatalf("GetWorkflow: %v, %v", still, err)
	}
	if _, err := c.CancelWorkflow(context.Background(), callErr.WorkflowID, "test over"); err != nil {
		t.Fatal(err)
	}
}
