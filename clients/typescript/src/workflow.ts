/**
 * Workflows: a builder for SubmitWorkflowRequest (named steps with `dependsOn` edges and
 * inputs taken from their parents' results) and the follower of StreamWorkflow.
 *
 *     const wf = workflow("thumbnail");
 *     wf.step("fetch", "echo", { size: 3 });
 *     wf.step("measure", "echo", { unit: "px" }).input("size", "fetch", "size");
 *     const done = await client.callWorkflow(wf);
 */
import { create } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import { JobsvcError } from "./errors.js";
import {
  StepInputSchema,
  StepMapSchema,
  SubmitWorkflowRequestSchema,
  WorkflowService,
  WorkflowState,
  WorkflowStepSchema,
  type CallWorkflowResponse,
  type StreamWorkflowResponse,
  type SubmitWorkflowRequest,
  type WorkflowStep,
} from "./gen/jobsvc/v1/workflow_service_pb.js";
import { payloadValue, type JsonValue, type PayloadInput } from "./payload.js";
import { jobSpec, type JobOptions } from "./spec.js";
import { backOffToResume, worthResuming, type StreamOptions } from "./stream.js";

/** How a step maps over a list in a parent's result (fan-out). */
export interface MapOptions {
  /** Dotted field path to the list in the parent's result; empty (default): the result is the list. */
  path?: string;
  /** Key of each element's input that receives the element; empty (default): elements are objects, merged. */
  key?: string;
  /** At most this many elements (1..10,000; 0, the default: the server's, 1,000). */
  maxItems?: number;
}

/** One step of a {@link WorkflowBuilder}; its methods add to it and return it, to be chained. */
export class StepBuilder {
  /** The step as it will be sent, for fields the builder does not cover. */
  readonly proto: WorkflowStep;

  constructor(name: string, handler: string, input?: PayloadInput, options: JobOptions = {}) {
    this.proto = create(WorkflowStepSchema, { name, job: jobSpec(handler, input, options) });
  }

  /** Wait until these steps have finished (`input`, `merge` and `map` add their parent themselves). */
  dependsOn(...steps: string[]): this {
    for (const step of steps) if (!this.proto.dependsOn.includes(step)) this.proto.dependsOn.push(step);
    return this;
  }

  /** Put a parent's result (path "": the whole of it; `owner.name`, `items.0`: a field) under `key`
   * of this step's input when the step becomes ready. A path missing from the result fails the step. */
  input(key: string, step: string, path = ""): this {
    this.proto.inputs.push(create(StepInputSchema, { key, step, path }));
    return this.dependsOn(step);
  }

  /** Merge a parent's result (or the object at `path` in it) into this step's input. */
  merge(step: string, path = ""): this {
    return this.input("", step, path);
  }

  /** Run the step once per element of a list in `step`'s result; its result is then the elements'
   * results in list order (fan-in). */
  map(step: string, options: MapOptions = {}): this {
    this.proto.map = create(StepMapSchema, {
      step,
      path: options.path ?? "",
      key: options.key ?? "",
      maxItems: options.maxItems ?? 0,
    });
    return this.dependsOn(step);
  }

  /** Let dependants run when this step fails or is cancelled, with `{error: ...}` in place of its result. */
  optional(): this {
    this.proto.optional = true;
    return this;
  }
}

/** Builds a workflow for {@link JobsvcClient.submitWorkflow} and {@link JobsvcClient.callWorkflow}. */
export class WorkflowBuilder {
  private readonly steps: StepBuilder[] = [];
  private readonly labelMap: Record<string, string> = {};

  /** `name` is for people (Get and List show it). */
  constructor(readonly name = "") {}

  /** Add a step running `handler` with a literal input (an object, or none, for a step taking inputs). */
  step(name: string, handler: string, input?: PayloadInput, options?: JobOptions): StepBuilder {
    const step = new StepBuilder(name, handler, input, options);
    this.steps.push(step);
    return step;
  }

  /** Labels of the workflow (each step's job takes its own from its options). */
  labels(labels: Record<string, string>): this {
    Object.assign(this.labelMap, labels);
    return this;
  }

  /** The SubmitWorkflowRequest. */
  request(): SubmitWorkflowRequest {
    return create(SubmitWorkflowRequestSchema, {
      name: this.name,
      steps: this.steps.map((s) => s.proto),
      labels: { ...this.labelMap },
    });
  }
}

/** Start a workflow: `workflow("name").step(...)`. */
export function workflow(name = ""): WorkflowBuilder {
  return new WorkflowBuilder(name);
}

/** The decoded result of sink step `step` of a finished workflow (CallWorkflow's answer). */
export function workflowOutput<T = JsonValue>(response: CallWorkflowResponse, step: string): T {
  const output = response.outputs.find((o) => o.name === step);
  if (output === undefined) throw new Error(`${step} is not a sink step of workflow ${response.workflow?.id}`);
  return payloadValue(output.job?.result) as T;
}

/** True when CallWorkflow's answer is a workflow that SUCCEEDED. */
export function workflowSucceeded(response: CallWorkflowResponse): boolean {
  return response.workflow?.state === WorkflowState.SUCCEEDED;
}

/**
 * Every step's events in the workflow's one sequence until the workflow has finished, re-opened
 * after `afterSequence` = the last sequence seen when the connection drops: no gap, no duplicate.
 */
export async function* followWorkflow(
  client: Client<typeof WorkflowService>,
  id: string,
  options: StreamOptions = {},
): AsyncGenerator<StreamWorkflowResponse, void, undefined> {
  const maxRetries = options.maxRetries ?? 8;
  let last = BigInt(options.afterSequence ?? 0);
  let retries = 0;
  for (;;) {
    const attempt = new AbortController();
    const onAbort = () => attempt.abort(options.signal?.reason);
    options.signal?.addEventListener("abort", onAbort, { once: true });
    let failure: JobsvcError;
    try {
      for await (const event of client.streamWorkflow({ id, afterSequence: last }, { signal: attempt.signal })) {
        if (event.sequence <= last) continue; // never a duplicate
        last = event.sequence;
        retries = 0;
        yield event;
      }
      return; // the server ends the stream when the workflow has finished
    } catch (error) {
      failure = JobsvcError.from(error);
      if (!worthResuming(failure, options)) throw failure;
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
      attempt.abort();
    }
    if (retries >= maxRetries) throw failure;
    retries += 1;
    await backOffToResume(failure, retries, options);
  }
}
