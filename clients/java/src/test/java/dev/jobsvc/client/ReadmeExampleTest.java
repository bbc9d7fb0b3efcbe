package dev.jobsvc.client;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.jobsvc.client.examples.Quickstart;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The README's example is the code of {@link Quickstart}, and it runs. */
class ReadmeExampleTest {

  private static final Path README = Path.of("README.md");
  private static final Path QUICKSTART = Path.of("src/test/java/dev/jobsvc/client/examples/Quickstart.java");

  @Test
  void readmeShowsTheQuickstartSource() throws IOException {
    String source = Files.readString(QUICKSTART);
    Matcher region = Pattern.compile("// README:begin\n(.*?)// README:end\n", Pattern.DOTALL).matcher(source);
    Matcher block =
        Pattern.compile("<!-- quickstart -->\n```java\n(.*?)```\n", Pattern.DOTALL).matcher(Files.readString(README));
    assertEquals(true, region.find(), "no README region in Quickstart.java");
    assertEquals(true, block.find(), "no <!-- quickstart --> java block in README.md");
    assertEquals(region.group(1), block.group(1), "README.md's example differs from Quickstart.java");
  }

  @Test
  void quickstartPrintsTheEchoedInput() {
    LiveServer.address();
    PrintStream stdout = System.out;
    ByteArrayOutputStream printed = new ByteArrayOutputStream();
    System.setOut(new PrintStream(printed, true, StandardCharsets.UTF_8));
    try {
      Quickstart.main(new String[0]);
    } finally {
      System.setOut(stdout);
    }
    assertEquals("{\"hello\":\"java\"}\n", printed.toString(StandardCharsets.UTF_8));
  }
}
