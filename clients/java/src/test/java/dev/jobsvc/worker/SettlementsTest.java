package dev.jobsvc.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jobsvc.v1.JobError;
import org.junit.jupiter.api.Test;

class SettlementsTest {

  @Test
  void anExceptionIsItsClassNameMessageAndStackTrace() {
    JobError error = Settlements.error(new IllegalStateException("broken"), 2);
    assertEquals("java.lang.IllegalStateException", error.getType());
    assertEquals("broken", error.getMessage());
    assertEquals(2, error.getAttempt());
    assertFalse(error.getNonRetryable());
    assertTrue(error.getTraceback().startsWith("java.lang.IllegalStateException: broken"));
    assertTrue(error.getTraceback().contains("SettlementsTest"));
  }

  @Test
  void typesAndNonRetryable() {
    assertEquals("ValueError", Settlements.error(new HandlerException("ValueError", "x"), 1).getType());
    assertFalse(Settlements.error(new HandlerException("ValueError", "x"), 1).getNonRetryable());
    JobError plain = Settlements.error(new NonRetryableException("no"), 1);
    assertEquals(NonRetryableException.class.getName(), plain.getType());
    assertTrue(plain.getNonRetryable());
    JobError caused = Settlements.error(new NonRetryableException("no", new ArithmeticException("/0")), 1);
    assertEquals("java.lang.ArithmeticException", caused.getType());
    assertTrue(caused.getTraceback().contains("Caused by: java.lang.ArithmeticException: /0"));
    assertEquals("", Settlements.error(new RuntimeException(), 1).getMessage());
  }

  @Test
  void hugeMessagesAndTracesAreCut() {
    JobError error = Settlements.error(new RuntimeException("x".repeat(1_000_000)), 1);
    assertTrue(error.getMessage().length() < Settlements.MAX_MESSAGE_CHARS + 100);
    assertTrue(error.getTraceback().length() < Settlements.MAX_TRACE_CHARS + 100);
    assertTrue(error.getTraceback().startsWith("java.lang.RuntimeException: xxx"));
  }
}
