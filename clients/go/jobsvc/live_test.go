package jobsvc_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	jobsvcv1 "github.com/jobsvc/jobsvc/clients/go/gen/jobsvc/v1"
	"github.com/jobsvc/jobsvc/clients/go/jobsvc"
)

// These tests talk to a live jobsvc server serving tests/handlers.py, whose
// address is in JOBSVC_SERVER (tests/clients/test_client_go.py starts one).

func serverAddress(t *testing.T) string {
	t.Helper()
	addr := os.Getenv("JOBSVC_SERVER")
	if addr == "" {
		t.Skip("JOBSVC_SERVER is not set: no live jobsvc server to test against")
	}
	return addr
}

func dial(t *testing.T, addr string, opts ...jobsvc.Option) *jobsvc.Client {
	t.Helper()
	c, err := jobsvc.Dial(context.Background(), addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func liveClient(t *testing.T) *jobsvc.Client {
	t.Helper()
	t.Parallel()
	return dial(t, serverAddress(t), jobsvc.WithDefaultTimeout(30*time.Second))
}

func TestLiveSubmitGetList(t *testing.T) {
	c := liveClient(t)
	ctx := context.Background()
	label := map[string]string{"test": t.Name()}
	job, err := c.Submit(ctx, "echo", []int{1, 2}, jobsvc.Priority(5), jobsvc.Labels(label), jobsvc.Delay(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if job.GetId() == "" || job.GetHandler() != "echo" || job.GetVersion() != "1.0.0" ||
		job.GetPriority() != 5 || job.GetState() != jobsvcv1.JobState_JOB_STATE_QUEUED {
		t.Errorf("submitted %v", job)
	}
	got, err := c.Get(ctx, job.GetId())
	if err != nil || got.GetId() != job.GetId() || got.GetLabels()["test"] != t.Name() {
		t.Fatalf("Get: %v, %v", got, err)
	}

	specs := make([]*jobsvcv1.JobSpec, 3)
	for i := range specs {
		if specs[i], err = jobsvc.NewSpec("resize_image", map[string]int{"width": i}, jobsvc.Version("1.4.0"), jobsvc.Delay(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	batch, err := c.SubmitBatch(ctx, specs...)
	if err != nil || len(batch) != 3 || batch[0].GetVersion() != "1.4.0" {
		t.Fatalf("SubmitBatch: %v, %v", batch, err)
	}

	page, err := c.List(ctx, jobsvc.ListOptions{Handler: "resize_image", PageSize: 2})
	if err != nil || len(page.GetJobs()) != 2 || page.GetNextPageToken() == "" {
		t.Fatalf("List: %v, %v", page, err)
	}
	seen := map[string]bool{}
	for j, err := range c.ListAll(ctx, jobsvc.ListOptions{Handler: "resize_image", PageSize: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		seen[j.GetId()] = true
	}
	for _, j := range batch {
		if !seen[j.GetId()] {
			t.Errorf("ListAll missed job %s", j.GetId())
		}
	}

	for _, j := range append(batch, job) {
		if _, err := c.Cancel(ctx, j.GetId(), "test done"); err != nil {
			t.Errorf("Cancel: %v", err)
		}
	}
}

func TestLiveBasicView(t *testing.T) {
	c := liveClient(t)
	ctx := context.Background()
	res, err := c.Call(ctx, "echo", map[string]string{"view": t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	id := res.Job.GetId()
	basic, err := c.GetView(ctx, id, jobsvcv1.JobView_JOB_VIEW_BASIC)
	if err != nil || basic.GetInput() != nil || basic.GetResult() != nil || basic.GetState() != jobsvcv1.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("GetView BASIC: %v, %v", basic, err)
	}
	full, err := c.GetView(ctx, id, jobsvcv1.JobView_JOB_VIEW_FULL)
	if err != nil || full.GetResult() == nil {
		t.Fatalf("GetView FULL: %v, %v", full, err)
	}
	page, err := c.List(ctx, jobsvc.ListOptions{Handler: "echo", View: jobsvcv1.JobView_JOB_VIEW_BASIC})
	if err != nil || len(page.GetJobs()) == 0 {
		t.Fatalf("List BASIC: %v, %v", page, err)
	}
	for _, job := range page.GetJobs() {
		if job.GetInput() != nil || job.GetResult() != nil {
			t.Errorf("a BASIC job carries its payloads: %v", job)
		}
	}
}

func TestLiveCall(t *testing.T) {
	c := liveClient(t)
	ctx := context.Background()
	result, err := c.Call(ctx, "echo", map[string]any{"hello": "go", "n": 3})
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Hello string `json:"hello"`
		N     int    `json:"n"`
	}
	if err := result.Decode(&out); err != nil || out.Hello != "go" || out.N != 3 {
		t.Errorf("result %+v, %v", out, err)
	}
	if result.Job.GetState() != jobsvcv1.JobState_JOB_STATE_SUCCEEDED {
		t.Errorf("state %v", result.Job.GetState())
	}

	resized, err := c.Call(ctx, "resize_image", map[string]int{"width": 3, "height": 4}, jobsvc.Version("^2"))
	if err != nil {
		t.Fatal(err)
	}
	var size struct {
		Version string `json:"version"`
		Size    []int  `json:"size"`
	}
	if err := resized.Decode(&size); err != nil || size.Version != "2.1.0" || len(size.Size) != 2 || size.Size[1] != 4 {
		t.Errorf("resize ^2: %+v, %v", size, err)
	}
}

func TestLiveCallFailed(t *testing.T) {
	c := liveClient(t)
	_, err := c.Call(context.Background(), "fail", 42, jobsvc.MaxAttempts(1))
	var failed *jobsvc.JobFailedError
	if !errors.As(err, &failed) {
		t.Fatalf("got %v, want *JobFailedError", err)
	}
	if failed.Type != "ValueError" || !strings.Contains(failed.Message, "bad value: 42") ||
		failed.Traceback == "" || failed.Job.GetState() != jobsvcv1.JobState_JOB_STATE_FAILED {
		t.Errorf("got %+v", failed)
	}
}

func TestLiveCallDeadline(t *testing.T) {
	c := liveClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err := c.Call(ctx, "sleepy", map[string]float64{"seconds": 1.5})
	var callErr *jobsvc.CallError
	if !errors.As(err, &callErr) || status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("got %v, want a *CallError with DEADLINE_EXCEEDED", err)
	}
	// The job carries on: attach to it and wait for its result.
	var last *jobsvcv1.JobEvent
	for event, err := range c.Stream(context.Background(), callErr.JobID, 0) {
		if err != nil {
			t.Fatal(err)
		}
		last = event
	}
	if last.GetSucceeded() == nil {
		t.Errorf("last event %v", last)
	}
}

func TestLiveCancel(t *testing.T) {
	c := liveClient(t)
	ctx := context.Background()
	key := "cancel-" + time.Now().Format(time.RFC3339Nano)
	called := make(chan error, 1)
	go func() {
		_, err := c.Call(ctx, "wait_cancel", "x", jobsvc.IdempotencyKey(key))
		called <- err
	}()
	// The same key returns the same job, wherever the Call has got to.
	var job *jobsvcv1.Job
	var err error
	for range 50 {
		if job, err = c.Submit(ctx, "wait_cancel", "x", jobsvc.IdempotencyKey(key)); err == nil &&
			job.GetState() == jobsvcv1.JobState_JOB_STATE_RUNNING {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if job.GetState() != jobsvcv1.JobState_JOB_STATE_RUNNING {
		t.Fatalf("job never ran: %v, %v", job, err)
	}
	if _, err := c.Cancel(ctx, job.GetId(), "enough"); err != nil {
		t.Fatal(err)
	}
	var cancelled *jobsvc.JobCancelledError
	if err := <-called; !errors.As(err, &cancelled) || cancelled.Job.GetId() != job.GetId() {
		t.Fatalf("Call got %v, want *JobCancelledError", err)
	}
	var last *jobsvcv1.JobEvent
	for event, err := range c.Stream(ctx, job.GetId(), 0) {
		if err != nil {
			t.Fatal(err)
		}
		last = event
	}
	if last.GetCancelled() == nil {
		t.Errorf("last event %v, want cancelled", last)
	}
}

func TestLiveErrorDetails(t *testing.T) {
	c := liveClient(t)
	ctx := context.Background()

	_, err := c.Submit(ctx, "no_such_handler", nil)
	d, ok := jobsvc.ErrorDetails(err)
	if !ok || d.Code != codes.NotFound || d.Reason != "HANDLER_NOT_FOUND" || d.Domain != "jobsvc.v1" {
		t.Errorf("unknown handler: %+v (%v)", d, err)
	}
	if status.Code(err) != codes.NotFound {
		t.Errorf("status.Code: %v", status.Code(err))
	}

	_, err = c.Call(ctx, "greet", map[string]any{"name": 5})
	d, ok = jobsvc.ErrorDetails(err)
	if !ok || d.Code != codes.InvalidArgument {
		t.Fatalf("bad input: %+v (%v)", d, err)
	}
	var fields []string
	for _, v := range d.FieldViolations {
		fields = append(fields, v.Field)
	}
	if !strings.Contains(strings.Join(fields, " "), "job.input.name") {
		t.Errorf("field violations %v, want job.input.name", d.FieldViolations)
	}

	done, err := c.Call(ctx, "echo", 1)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Cancel(ctx, done.Job.GetId(), "too late")
	if d, _ := jobsvc.ErrorDetails(err); d.Code != codes.FailedPrecondition || d.Reason != "JOB_ALREADY_FINISHED" {
		t.Errorf("cancelling a finished job: %+v", d)
	}

	_, err = c.Call(ctx, "resize_image", nil, jobsvc.Version("^9"))
	if d, _ := jobsvc.ErrorDetails(err); d.Code != codes.NotFound || d.Metadata["available_versions"] == "" {
		t.Errorf("no matching version: %+v", d)
	}
}

func TestLiveHandlers(t *testing.T) {
	c := liveClient(t)
	handlers, err := c.Handlers(context.Background(), "resize_image")
	if err != nil {
		t.Fatal(err)
	}
	var versions []string
	for _, h := range handlers {
		versions = append(versions, h.GetVersion())
	}
	if strings.Join(versions, ",") != "2.1.0,2.0.0,1.4.0" {
		t.Errorf("versions %v", versions)
	}
}
