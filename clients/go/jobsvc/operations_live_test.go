package jobsvc_test

import (
	"context"
	"testing"
	"time"

	jobsvcv1 "github.com/jobsvc/jobsvc/clients/go/gen/jobsvc/v1"
	"github.com/jobsvc/jobsvc/clients/go/jobsvc"
)

// Jobs of a label only this test uses, delayed an hour: the bulk cancel selects
// exactly them.
func TestLiveBulkCancelDryRunThenRun(t *testing.T) {
	c := liveClient(t)
	ctx := context.Background()
	label := map[string]string{"go-live": t.Name()}
	for i := 0; i < 3; i++ {
		if _, err := c.Submit(ctx, "echo", i, jobsvc.Labels(label), jobsvc.Delay(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	filter := &jobsvcv1.JobFilter{Handler: "echo", Labels: label}
	action := jobsvcv1.BulkAction_BULK_ACTION_CANCEL
	dry, err := c.Bulk(ctx, action, filter, jobsvc.BulkOptions{DryRun: true})
	if err != nil || dry.GetState() != jobsvcv1.OperationState_OPERATION_STATE_DRY_RUN || dry.GetMatched() != 3 || dry.GetId() != "" {
		t.Fatalf("dry run: %v, %v", dry, err)
	}
	op, err := c.Bulk(ctx, action, filter, jobsvc.BulkOptions{MaxJobsPerSecond: 100})
	if err != nil || op.GetId() == "" || op.GetMatched() != 3 {
		t.Fatalf("Bulk: %v, %v", op, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for op.GetState() == jobsvcv1.OperationState_OPERATION_STATE_RUNNING {
		if time.Now().After(deadline) {
			t.Fatalf("still running: %v", op)
		}
		time.Sleep(50 * time.Millisecond)
		if op, err = c.GetOperation(ctx, op.GetId()); err != nil {
			t.Fatal(err)
		}
	}
	if op.GetState() != jobsvcv1.OperationState_OPERATION_STATE_SUCCEEDED || op.GetProcessed() != 3 {
		t.Fatalf("finished: %v", op)
	}
	// Cancelling a finished operation returns it as it is.
	if again, err := c.CancelOperation(ctx, op.GetId()); err != nil || again.GetState() != jobsvcv1.OperationState_OPERATION_STATE_SUCCEEDED {
		t.Fatalf("CancelOperation: %v, %v", again, err)
	}
	page, err := c.List(ctx, jobsvc.ListOptions{Labels: label, States: []jobsvcv1.JobState{jobsvcv1.JobState_JOB_STATE_CANCELLED}})
	if err != nil || len(page.GetJobs()) != 3 {
		t.Fatalf("cancelled jobs: %v, %v", page, err)
	}
}
