package dev.jobsvc.worker;

/**
 * A child job a handler spawned ({@link JobContext#spawn}): what {@link JobContext#waitFor}
 * takes.
 *
 * @param id the child's job id
 * @param key its name among the parent's children
 * @param handler its handler
 */
public record ChildJob(String id, String key, String handler) {}
