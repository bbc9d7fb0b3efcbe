package jobsvc_test

import (
	"context"
	"testing"
	"time"

	jobsvcv1 "github.com/jobsvc/jobsvc/clients/go/gen/jobsvc/v1"
	"github.com/jobsvc/jobsvc/clients/go/jobsvc"
)

// A handler no other live test submits (pausing it holds nobody else's jobs), with
// an input of its own (its result cache would answer a repeated one without running).
func TestLivePauseAndResume(t *testing.T) {
	c := liveClient(t)
	ctx := context.Background()
	if _, err := c.Pause(ctx, "cached_square", "1.0.0", "go live test"); err != nil {
		t.Fatal(err)
	}
	job, err := c.Submit(ctx, "cached_square", time.Now().UnixNano()%1000000)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	got, err := c.Get(ctx, job.GetId())
	if err != nil || got.GetState() != jobsvcv1.JobState_JOB_STATE_QUEUED ||
		got.GetWaitReason() != jobsvcv1.WaitReason_WAIT_REASON_PAUSED {
		t.Fatalf("a job of a paused version: %v, %v", got, err)
	}
	if was, err := c.Resume(ctx, "cached_square", "1.0.0"); err != nil || !was {
		t.Fatalf("Resume: %v, %v", was, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for got.GetState() != jobsvcv1.JobState_JOB_STATE_SUCCEEDED {
		if time.Now().After(deadline) {
			t.Fatalf("not run after resume: %v", got)
		}
		time.Sleep(50 * time.Millisecond)
		if got, err = c.Get(ctx, job.GetId()); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLivePauseFlowKeyAndLabelFilter(t *testing.T) {
	c := liveClient(t)
	ctx := context.Background()
	key := "go-live-" + t.Name()
	if p, err := c.PauseFlowKey(ctx, key, ""); err != nil || p.GetFlowKey() != key {
		t.Fatalf("PauseFlowKey: %v, %v", p, err)
	}
	found := false
	pauses, err := c.Pauses(ctx)
	for _, p := range pauses {
		found = found || p.GetFlowKey() == key
	}
	if err != nil || !found {
		t.Fatalf("Pauses: %v, %v", pauses, err)
	}
	if was, err := c.ResumeFlowKey(ctx, key); err != nil || !was {
		t.Fatalf("ResumeFlowKey: %v, %v", was, err)
	}
	label := map[string]string{"go-live": t.Name()}
	job, err := c.Submit(ctx, "echo", 1, jobsvc.Labels(label), jobsvc.Delay(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	page, err := c.List(ctx, jobsvc.ListOptions{Labels: label})
	if err != nil || len(page.GetJobs()) != 1 || page.GetJobs()[0].GetId() != job.GetId() {
		t.Fatalf("List by label: %v, %v", page, err)
	}
}
