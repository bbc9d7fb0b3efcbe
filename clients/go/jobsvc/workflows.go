package jobsvc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"slices"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	jobsvcv1 "github.com/jobsvc/jobsvc/clients/go/gen/jobsvc/v1"
)

// WorkflowIDMetadata is the response metadata key carrying the workflow id of
// CallWorkflow, sent before the workflow finishes.
const WorkflowIDMetadata = "jobsvc-workflow-id"

// Workflow builds a SubmitWorkflowRequest: named steps, each a job, with
// depends_on edges and inputs taken from parents' results. The server checks
// it whole (cycles, unknown steps, handlers) before storing anything.
//
//	wf := jobsvc.NewWorkflow("thumbnail")
//	wf.Step("fetch", "echo", map[string]any{"size": 3})
//	wf.Step("measure", "echo", map[string]any{"unit": "px"}).Input("size", "fetch", "size")
//	out, err := client.CallWorkflow(ctx, wf)
type Workflow struct {
	req   *jobsvcv1.SubmitWorkflowRequest
	steps map[string]*WorkflowStep
	err   error // the first error of a step's input, returned by Request
}

// WorkflowStep is one step of a Workflow; its methods add to it and return it,
// to be chained.
type WorkflowStep struct {
	proto *jobsvcv1.WorkflowStep
}

// NewWorkflow starts a workflow; name is for people (Get and List show it).
func NewWorkflow(name string) *Workflow {
	return &Workflow{req: &jobsvcv1.SubmitWorkflowRequest{Name: name}, steps: map[string]*WorkflowStep{}}
}

// Labels adds labels to the workflow (each step's job keeps its own, see the Labels JobOption).
func (w *Workflow) Labels(labels map[string]string) *Workflow {
	if w.req.Labels == nil {
		w.req.Labels = map[string]string{}
	}
	maps.Copy(w.req.Labels, labels)
	return w
}

// Step adds a step running handler with a literal input (see NewPayload; a step
// that takes inputs from its parents needs an object or nil) and job options.
func (w *Workflow) Step(name, handler string, input any, opts ...JobOption) *WorkflowStep {
	spec, err := NewSpec(handler, input, opts...)
	if err != nil && w.err == nil {
		w.err = fmt.Errorf("jobsvc: workflow step %q: %w", name, err)
	}
	step := &WorkflowStep{proto: &jobsvcv1.WorkflowStep{Name: name, Job: spec}}
	w.req.Steps = append(w.req.Steps, step.proto)
	w.steps[name] = step
	return step
}

// Request is the SubmitWorkflowRequest built so far, or the first error of a
// step's literal input.
func (w *Workflow) Request() (*jobsvcv1.SubmitWorkflowRequest, error) {
	return w.req, w.err
}

// DependsOn makes the step wait until these steps have finished (Input, Merge
// and Map add their parent themselves).
func (s *WorkflowStep) DependsOn(steps ...string) *WorkflowStep {
	for _, parent := range steps {
		if !slices.Contains(s.proto.DependsOn, parent) {
			s.proto.DependsOn = append(s.proto.DependsOn, parent)
		}
	}
	return s
}

// Input puts a parent's result (path "": the whole result; "owner.name",
// "items.0": a field of it) under key of this step's input, when the step
// becomes ready. A path missing from the result fails the step.
func (s *WorkflowStep) Input(key, step, path string) *WorkflowStep {
	s.proto.Inputs = append(s.proto.Inputs, &jobsvcv1.StepInput{Key: key, Step: step, Path: path})
	return s.DependsOn(step)
}

// Merge merges a parent's result (or the object at path in it) into this
// step's input.
func (s *WorkflowStep) Merge(step, path string) *WorkflowStep {
	return s.Input("", step, path)
}

// Map runs the step once per element of the list at path in step's result
// (fan-out), each element under key of its input ("": merged, elements being
// objects), at most maxItems of them (0: the server's default, 1,000). The
// step's result is then the elements' results in list order (fan-in).
func (s *WorkflowStep) Map(step, path, key string, maxItems int32) *WorkflowStep {
	s.proto.Map = &jobsvcv1.StepMap{Step: step, Path: path, Key: key, MaxItems: maxItems}
	return s.DependsOn(step)
}

// Optional lets the step's dependants run when it fails or is cancelled, with
// {"error": ...} in place of its result (by default they are cancelled).
func (s *WorkflowStep) Optional() *WorkflowStep {
	s.proto.Optional = true
	return s
}

// Proto is the step as it will be sent, for fields the builder does not cover.
func (s *WorkflowStep) Proto() *jobsvcv1.WorkflowStep { return s.proto }

// WorkflowResult is a finished workflow and the results of its sink steps (those
// no step depends on), as CallWorkflow answers.
type WorkflowResult struct {
	Workflow *jobsvcv1.Workflow
	Outputs  []*jobsvcv1.WorkflowStepStatus
}

// Succeeded reports whether the workflow ended SUCCEEDED.
func (r *WorkflowResult) Succeeded() bool {
	return r.Workflow.GetState() == jobsvcv1.WorkflowState_WORKFLOW_STATE_SUCCEEDED
}

// Output is the sink step named step, or nil.
func (r *WorkflowResult) Output(step string) *jobsvcv1.WorkflowStepStatus {
	for _, out := range r.Outputs {
		if out.GetName() == step {
			return out
		}
	}
	return nil
}

// Decode decodes the result of sink step into out (see DecodePayload).
func (r *WorkflowResult) Decode(step string, out any) error {
	sink := r.Output(step)
	if sink == nil {
		return fmt.Errorf("jobsvc: %q is not a sink step of workflow %s", step, r.Workflow.GetId())
	}
	return DecodePayload(sink.GetJob().GetResult(), out)
}

// SubmitWorkflow stores the workflow in one transaction and returns it (steps
// in the BASIC view) once durable.
func (c *Client) SubmitWorkflow(ctx context.Context, w *Workflow) (*jobsvcv1.Workflow, error) {
	req, err := w.Request()
	if err != nil {
		return nil, err
	}
	resp, err := c.workflows.SubmitWorkflow(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.GetWorkflow(), nil
}

// CallWorkflow submits the workflow and waits within ctx's deadline until every
// step has finished. A workflow that failed is a result (see Succeeded), not an
// error. When the RPC ends after the workflow was stored (DEADLINE_EXCEEDED),
// the error is a *WorkflowCallError with its id: the workflow carries on.
func (c *Client) CallWorkflow(ctx context.Context, w *Workflow) (*WorkflowResult, error) {
	req, err := w.Request()
	if err != nil {
		return nil, err
	}
	var header metadata.MD
	resp, err := c.workflows.CallWorkflow(ctx, &jobsvcv1.CallWorkflowRequest{Workflow: req}, grpc.Header(&header))
	if err != nil {
		if ids := header.Get(WorkflowIDMetadata); len(ids) > 0 {
			return nil, &WorkflowCallError{WorkflowID: ids[0], Err: err}
		}
		return nil, err
	}
	return &WorkflowResult{Workflow: resp.GetWorkflow(), Outputs: resp.GetOutputs()}, nil
}

// WorkflowCallError is a CallWorkflow that ended after the workflow was stored.
type WorkflowCallError struct {
	WorkflowID string
	Err        error
}

func (e *WorkflowCallError) Error() string {
	return fmt.Sprintf("jobsvc: call of workflow %s: %v", e.WorkflowID, e.Err)
}

func (e *WorkflowCallError) Unwrap() error { return e.Err }

// GRPCStatus makes status.FromError (and ErrorDetails) see the RPC's status.
func (e *WorkflowCallError) GRPCStatus() *status.Status { return status.Convert(e.Err) }

// GetWorkflow returns a workflow and every step's job: JOB_VIEW_FULL for their
// inputs and results, otherwise (BASIC, UNSPECIFIED) without.
func (c *Client) GetWorkflow(ctx context.Context, id string, view jobsvcv1.JobView) (*jobsvcv1.Workflow, error) {
	resp, err := c.workflows.GetWorkflow(ctx, &jobsvcv1.GetWorkflowRequest{Id: id, View: view})
	if err != nil {
		return nil, err
	}
	return resp.GetWorkflow(), nil
}

// ListWorkflows returns one page of workflows, newest first, without their
// steps (pageSize 0: the server's default; pageToken from the previous page).
func (c *Client) ListWorkflows(ctx context.Context, pageSize int32, pageToken string) (*jobsvcv1.ListWorkflowsResponse, error) {
	return c.workflows.ListWorkflows(ctx, &jobsvcv1.ListWorkflowsRequest{PageSize: pageSize, PageToken: pageToken})
}

// CancelWorkflow cancels every step that has not finished (running ones are
// asked to stop, on remote workers too). A finished workflow is left as it is.
func (c *Client) CancelWorkflow(ctx context.Context, id, reason string) (*jobsvcv1.Workflow, error) {
	resp, err := c.workflows.CancelWorkflow(ctx, &jobsvcv1.CancelWorkflowRequest{Id: id, Reason: reason})
	if err != nil {
		return nil, err
	}
	return resp.GetWorkflow(), nil
}

// RedriveWorkflowStep runs a FAILED step again; the dependants its failure
// cancelled wait for it again, and the workflow continues from there.
func (c *Client) RedriveWorkflowStep(ctx context.Context, id, step string) (*jobsvcv1.Workflow, error) {
	resp, err := c.workflows.RedriveWorkflowStep(ctx, &jobsvcv1.RedriveWorkflowStepRequest{Id: id, Step: step})
	if err != nil {
		return nil, err
	}
	return resp.GetWorkflow(), nil
}

// StreamWorkflow iterates over every step's events after afterSequence (0: from
// the start), in the workflow's one sequence (each event names its step), until
// the workflow has finished. A dropped connection is resumed from the last
// sequence seen, per the client's ResumePolicy: no gap, no duplicate. Any other
// error, or one that persists, is yielded last.
func (c *Client) StreamWorkflow(ctx context.Context, id string, afterSequence int64) iter.Seq2[*jobsvcv1.StreamWorkflowResponse, error] {
	return func(yield func(*jobsvcv1.StreamWorkflowResponse, error) bool) {
		failures := 0 // re-opens since the last event
		for {
			events, err := c.streamWorkflowOnce(ctx, id, &afterSequence, yield)
			if err == nil {
				return // the workflow ended, or the consumer stopped
			}
			if events > 0 {
				failures = 0
			}
			if !c.resumable(ctx, err) || failures >= c.resume.MaxAttempts {
				yield(nil, err)
				return
			}
			failures++
			if err := sleep(ctx, c.resume.backoff(failures)); err != nil {
				yield(nil, err)
				return
			}
		}
	}
}

// streamWorkflowOnce runs one StreamWorkflow RPC, yielding its events and moving
// *after on; nil when it ended cleanly (the server ends it with the workflow) or
// the consumer stopped.
func (c *Client) streamWorkflowOnce(ctx context.Context, id string, after *int64,
	yield func(*jobsvcv1.StreamWorkflowResponse, error) bool,
) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.workflows.StreamWorkflow(ctx, &jobsvcv1.StreamWorkflowRequest{Id: id, AfterSequence: *after})
	if err != nil {
		return 0, err
	}
	events := 0
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return events, nil
		}
		if err != nil {
			return events, err
		}
		*after = resp.GetSequence()
		events++
		if !yield(resp, nil) {
			return events, nil
		}
	}
}
