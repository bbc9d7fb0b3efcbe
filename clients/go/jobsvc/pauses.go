package jobsvc

import (
	"context"

	jobsvcv1 "github.com/jobsvc/jobsvc/clients/go/gen/jobsvc/v1"
)

// Pause pauses a handler (version "": every version) or one exact version: its
// queued jobs stay queued, running ones finish. It returns once every replica
// and remote worker obeys: no job of it starts after that, until Resume.
func (c *Client) Pause(ctx context.Context, handler, version, reason string) (*jobsvcv1.Pause, error) {
	resp, err := c.pauses.PauseHandler(ctx, &jobsvcv1.PauseHandlerRequest{Handler: handler, Version: version, Reason: reason})
	if err != nil {
		return nil, err
	}
	return resp.GetPause(), nil
}

// Resume undoes Pause(handler, version); false when it was not paused. The
// queued jobs start at once.
func (c *Client) Resume(ctx context.Context, handler, version string) (bool, error) {
	resp, err := c.pauses.ResumeHandler(ctx, &jobsvcv1.ResumeHandlerRequest{Handler: handler, Version: version})
	if err != nil {
		return false, err
	}
	return resp.GetWasPaused(), nil
}

// PauseFlowKey pauses every job carrying this flow-control key (its concurrency,
// rate or fairness key as rendered at submit: a tenant's, say), as Pause does.
func (c *Client) PauseFlowKey(ctx context.Context, key, reason string) (*jobsvcv1.Pause, error) {
	resp, err := c.pauses.PauseFlowKey(ctx, &jobsvcv1.PauseFlowKeyRequest{Key: key, Reason: reason})
	if err != nil {
		return nil, err
	}
	return resp.GetPause(), nil
}

// ResumeFlowKey undoes PauseFlowKey; false when the key was not paused.
func (c *Client) ResumeFlowKey(ctx context.Context, key string) (bool, error) {
	resp, err := c.pauses.ResumeFlowKey(ctx, &jobsvcv1.ResumeFlowKeyRequest{Key: key})
	if err != nil {
		return false, err
	}
	return resp.GetWasPaused(), nil
}

// Pauses lists the pauses in force.
func (c *Client) Pauses(ctx context.Context) ([]*jobsvcv1.Pause, error) {
	resp, err := c.pauses.ListPauses(ctx, &jobsvcv1.ListPausesRequest{})
	if err != nil {
		return nil, err
	}
	return resp.GetPauses(), nil
}
