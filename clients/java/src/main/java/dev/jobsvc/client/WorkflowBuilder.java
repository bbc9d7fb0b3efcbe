package dev.jobsvc.client;

import dev.jobsvc.v1.StepInput;
import dev.jobsvc.v1.StepMap;
import dev.jobsvc.v1.SubmitWorkflowRequest;
import dev.jobsvc.v1.WorkflowStep;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Builds a workflow for {@link JobsvcClient#submitWorkflow} and {@link JobsvcClient#callWorkflow}:
 * named steps, each a job, with {@code depends_on} edges and inputs taken from their parents'
 * results when they become ready. The server checks the whole (cycles, unknown steps, handlers)
 * before it stores anything.
 *
 * <pre>{@code
 * WorkflowBuilder wf = WorkflowBuilder.named("thumbnail");
 * wf.step("fetch", "echo", Map.of("size", 3));
 * wf.step("measure", "echo", Map.of("unit", "px")).input("size", "fetch", "size");
 * CallWorkflowResponse done = client.callWorkflow(wf);
 * }</pre>
 */
public final class WorkflowBuilder {

  private final String name;
  private final Map<String, String> labels = new LinkedHashMap<>();
  private final List<Step> steps = new ArrayList<>();

  private WorkflowBuilder(String name) {
    this.name = name;
  }

  /** A workflow; {@code name} is for people (Get and List show it). */
  public static WorkflowBuilder named(String name) {
    return new WorkflowBuilder(name);
  }

  /** Adds a label of the workflow (each step's job has its own, from its {@link SubmitOptions}). */
  public WorkflowBuilder label(String key, String value) {
    labels.put(key, value);
    return this;
  }

  /** Adds a step running the newest version of {@code handler} with a literal input. */
  public Step step(String stepName, String handler, Object input) {
    return step(stepName, handler, input, SubmitOptions.defaults());
  }

  /**
   * Adds a step running {@code handler} with a literal input ({@link Payloads#toPayload}; an object
   * or null for a step that takes inputs) and job options.
   */
  public Step step(String stepName, String handler, Object input, SubmitOptions options) {
    Step step = new Step(WorkflowStep.newBuilder().setName(stepName).setJob(JobSpecs.of(handler, input, options)));
    steps.add(step);
    return step;
  }

  /** The request as built so far. */
  public SubmitWorkflowRequest request() {
    SubmitWorkflowRequest.Builder request = SubmitWorkflowRequest.newBuilder().setName(name).putAllLabels(labels);
    steps.forEach(step -> request.addSteps(step.proto));
    return request.build();
  }

  /** One step; its methods add to it and return it, to be chained. */
  public static final class Step {

    private final WorkflowStep.Builder proto;

    private Step(WorkflowStep.Builder proto) {
      this.proto = proto;
    }

    /** Waits until these steps have finished ({@code input}, {@code merge}, {@code map} add theirs). */
    public Step dependsOn(String... parents) {
      for (String parent : parents) {
        if (!proto.getDependsOnList().contains(parent)) {
          proto.addDependsOn(parent);
        }
      }
      return this;
    }

    /**
     * Puts a parent's result ({@code path} "": the whole of it; {@code owner.name}, {@code items.0}:
     * a field) under {@code key} of this step's input. A path missing from the result fails the step.
     */
    public Step input(String key, String parent, String path) {
      proto.addInputs(StepInput.newBuilder().setKey(key).setStep(parent).setPath(path));
      return dependsOn(parent);
    }

    /** Merges a parent's result (or the object at {@code path} in it) into this step's input. */
    public Step merge(String parent, String path) {
      return input("", parent, path);
    }

    /**
     * Runs the step once per element of the list at {@code path} in {@code parent}'s result
     * (fan-out), each element under {@code key} of its input ("": merged, elements being objects),
     * at most {@code maxItems} of them (0: the server's default, 1,000). Its result is then the
     * elements' results in list order (fan-in).
     */
    public Step map(String parent, String path, String key, int maxItems) {
      proto.setMap(StepMap.newBuilder().setStep(parent).setPath(path).setKey(key).setMaxItems(maxItems));
      return dependsOn(parent);
    }

    /** Lets dependants run when this step fails or is cancelled, with {@code {"error": ...}} as its result. */
    public Step optional() {
      proto.setOptional(true);
      return this;
    }

    /** The step's message builder, for fields this builder does not cover. */
    public WorkflowStep.Builder proto() {
      return proto;
    }
  }
}
