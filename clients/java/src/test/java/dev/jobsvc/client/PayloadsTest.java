package dev.jobsvc.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Any;
import com.google.protobuf.Timestamp;
import com.google.protobuf.Value;
import dev.jobsvc.v1.JobSpec;
import dev.jobsvc.v1.Payload;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Conversions between Java values, JSON and payloads (no server). */
class PayloadsTest {

  @Test
  void javaValuesRoundTripThroughJson() {
    Map<String, Object> input = new LinkedHashMap<>();
    input.put("s", "text");
    input.put("i", 42);
    input.put("d", 2.5);
    input.put("b", false);
    input.put("n", null);
    input.put("list", List.of(1, "two"));
    input.put("array", new int[] {3, 4});

    Value json = Payloads.toValue(input);

    assertEquals("{\"s\":\"text\",\"i\":42,\"d\":2.5,\"b\":false,\"n\":null,\"list\":[1,\"two\"],\"array\":[3,4]}",
        Payloads.toJson(json));
    Map<String, Object> expected = new LinkedHashMap<>(input);
    expected.put("i", 42L);
    expected.put("list", List.of(1L, "two"));
    expected.put("array", List.of(3L, 4L));
    assertEquals(expected, Payloads.toJava(json));
    assertEquals(json, Payloads.parseJson(Payloads.toJson(json)));
  }

  @Test
  void hugeAndFractionalNumbersStayDoubles() {
    assertEquals(1e300, Payloads.toJava(Payloads.toValue(1e300)));
    assertEquals(0.1, Payloads.toJava(Payloads.toValue(0.1)));
    assertThrows(IllegalArgumentException.class, () -> Payloads.toValue(Double.NaN));
  }

  @Test
  void messagesBecomeTypedPayloadsOrTheirJsonMapping() {
    Timestamp time = Timestamp.newBuilder().setSeconds(1).build();

    Payload typed = Payloads.toPayload(time);
    assertEquals(Any.pack(time), typed.getProto());

    Value mapped = Payloads.toValue(time);
    assertEquals("1970-01-01T00:00:01Z", mapped.getStringValue());
    assertEquals(time, Payloads.toMessage(mapped, Timestamp.class));
    assertEquals(Payload.KindCase.JSON, Payloads.toPayload(null).getKindCase());
  }

  @Test
  void notJsonIsRefused() {
    assertThrows(IllegalArgumentException.class, () -> Payloads.parseJson("{nope"));
    assertThrows(IllegalArgumentException.class, () -> Payloads.toValue(new Object()));
  }

  @Test
  void specsCarryTheOptions() {
    SubmitOptions options =
        SubmitOptions.builder()
            .version("^2")
            .priority(-3)
            .idempotencyKey("k")
            .labels(Map.of("a", "b"))
            .delay(Duration.ofMillis(1500))
            .attemptTimeout(Duration.ofSeconds(-1).plusMillis(-500))
            .build();

    JobSpec spec = JobSpecs.of("resize_image", Arrays.asList(1, null), options);

    assertEquals("^2", spec.getVersion());
    assertEquals(-3, spec.getPriority());
    assertEquals("k", spec.getIdempotencyKey());
    assertEquals(Map.of("a", "b"), spec.getLabelsMap());
    assertEquals(1, spec.getDelay().getSeconds());
    assertEquals(500_000_000, spec.getDelay().getNanos());
    assertEquals(-1, spec.getAttemptTimeout().getSeconds());
    assertEquals(-500_000_000, spec.getAttemptTimeout().getNanos());
    assertEquals("[1,null]", Payloads.toJson(spec.getInput().getJson()));
    assertTrue(options.toBuilder().build().delay().isPresent());
  }

  @Test
  void retryPolicyBacksOffExponentiallyUpToTheMaximum() {
    RpcRetryPolicy policy = new RpcRetryPolicy(5, Duration.ofMillis(100), Duration.ofMillis(300), 2.0);
    assertEquals(Duration.ofMillis(100), policy.backoff(1));
    assertEquals(Duration.ofMillis(200), policy.backoff(2));
    assertEquals(Duration.ofMillis(300), policy.backoff(3));
    assertEquals("0.100000000s", ServiceConfig.seconds(Duration.ofMillis(100)));
  }
}
