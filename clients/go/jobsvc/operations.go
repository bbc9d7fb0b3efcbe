package jobsvc

import (
	"context"

	jobsvcv1 "github.com/jobsvc/jobsvc/clients/go/gen/jobsvc/v1"
)

// BulkOptions are the optional parts of Bulk.
type BulkOptions struct {
	// DryRun only counts the jobs the action would touch: the answer's state is
	// OPERATION_STATE_DRY_RUN, it has no id, and nothing is stored.
	DryRun bool
	// MaxJobsPerSecond bounds how fast the operation works (0: the server's default, 1000).
	MaxJobsPerSecond float64
}

// Bulk cancels, redrives or deletes every job the filter selects, as a background
// operation the server works through in batches; follow it with GetOperation.
// Count first with BulkOptions{DryRun: true}.
func (c *Client) Bulk(ctx context.Context, action jobsvcv1.BulkAction, filter *jobsvcv1.JobFilter, opts BulkOptions) (*jobsvcv1.Operation, error) {
	resp, err := c.operations.StartBulkAction(ctx, &jobsvcv1.StartBulkActionRequest{
		Action: action, Filter: filter, DryRun: opts.DryRun, MaxJobsPerSecond: opts.MaxJobsPerSecond,
	})
	if err != nil {
		return nil, err
	}
	return resp.GetOperation(), nil
}

// GetOperation returns a bulk operation and its progress (Processed of Matched).
func (c *Client) GetOperation(ctx context.Context, id string) (*jobsvcv1.Operation, error) {
	resp, err := c.operations.GetOperation(ctx, &jobsvcv1.GetOperationRequest{Id: id})
	if err != nil {
		return nil, err
	}
	return resp.GetOperation(), nil
}

// CancelOperation stops a running bulk operation after its batch in flight (what it
// did stays done); a finished one is returned as it is.
func (c *Client) CancelOperation(ctx context.Context, id string) (*jobsvcv1.Operation, error) {
	resp, err := c.operations.CancelOperation(ctx, &jobsvcv1.CancelOperationRequest{Id: id})
	if err != nil {
		return nil, err
	}
	return resp.GetOperation(), nil
}
