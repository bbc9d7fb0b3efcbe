package dev.jobsvc.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jobsvc.client.JobsvcException.FieldViolation;
import io.grpc.Status;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The server's google.rpc error details, as JobsvcException reads them. */
class ErrorMappingTest {

  private static JobsvcClient client;

  @BeforeAll
  static void connect() {
    client = LiveServer.client();
  }

  @AfterAll
  static void disconnect() {
    if (client != null) {
      client.close();
    }
  }

  @Test
  void unknownHandlerIsNotFound() {
    JobsvcException error = assertThrows(JobsvcException.class, () -> client.submit("no_such_handler", null));

    assertEquals(Status.Code.NOT_FOUND, error.code());
    assertEquals("HANDLER_NOT_FOUND", error.reason());
    assertEquals(JobsvcException.DOMAIN, error.domain());
    assertTrue(error.getMessage().startsWith("NOT_FOUND: "), error.getMessage());
    assertTrue(error.getCause() instanceof io.grpc.StatusRuntimeException);
  }

  @Test
  void unmatchedVersionListsTheVersionsThatExist() {
    SubmitOptions v9 = SubmitOptions.builder().version("^9").build();
    JobsvcException error = assertThrows(JobsvcException.class, () -> client.call("resize_image", null, v9));

    assertEquals(Status.Code.NOT_FOUND, error.code());
    assertEquals("HANDLER_VERSION_NOT_FOUND", error.reason());
    assertTrue(error.metadata().get("available_versions").contains("2.1.0"), error.metadata().toString());
  }

  @Test
  void inputAgainstTheSchemaIsInvalidArgumentWithTheField() {
    JobsvcException error =
        assertThrows(JobsvcException.class, () -> client.submit("greet", Map.of("name", 5)));

    assertEquals(Status.Code.INVALID_ARGUMENT, error.code());
    assertEquals("INPUT_SCHEMA_MISMATCH", error.reason());
    assertTrue(
        error.fieldViolations().stream().map(FieldViolation::field).anyMatch("job.input.name"::equals),
        error.fieldViolations().toString());
  }

  @Test
  void unknownJobIsNotFound() {
    JobsvcException error =
        assertThrows(JobsvcException.class, () -> client.get("00000000-0000-0000-0000-000000000000"));
    assertEquals(Status.Code.NOT_FOUND, error.code());
    assertEquals("JOB_NOT_FOUND", error.reason());
  }
}
