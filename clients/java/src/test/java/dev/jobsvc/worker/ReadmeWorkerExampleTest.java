package dev.jobsvc.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jobsvc.worker.examples.WorkerExample;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The README's worker example is the code of {@link WorkerExample}, and it runs. */
class ReadmeWorkerExampleTest {

  private static final Path README = Path.of("README.md");
  private static final Path EXAMPLE = Path.of("src/test/java/dev/jobsvc/worker/examples/WorkerExample.java");

  @Test
  void readmeShowsTheExampleSource() throws IOException {
    Matcher region =
        Pattern.compile("// README:begin\n(.*?)// README:end\n", Pattern.DOTALL).matcher(Files.readString(EXAMPLE));
    Matcher block =
        Pattern.compile("<!-- worker example -->\n```java\n(.*?)```\n", Pattern.DOTALL)
            .matcher(Files.readString(README));
    assertTrue(region.find(), "no README region in WorkerExample.java");
    assertTrue(block.find(), "no <!-- worker example --> java block in README.md");
    assertEquals(region.group(1), block.group(1), "README.md's worker example differs from WorkerExample.java");
  }

  @Test
  void theExampleServesAndCallsItsHandler() throws Exception {
    Live.address();
    PrintStream stdout = System.out;
    ByteArrayOutputStream printed = new ByteArrayOutputStream();
    System.setOut(new PrintStream(printed, true, StandardCharsets.UTF_8));
    try {
      WorkerExample.main(new String[0]);
    } finally {
      System.setOut(stdout);
    }
    assertEquals("{\"greeting\":\"hello, java\"}\n", printed.toString(StandardCharsets.UTF_8));
  }
}
