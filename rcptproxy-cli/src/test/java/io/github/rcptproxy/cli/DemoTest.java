package io.github.rcptproxy.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.testing.SmtpClient;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** {@code rcptproxy demo}: an in-process backend and the gateway in front of it. */
class DemoTest {
  private final List<AutoCloseable> resources = new ArrayList<>();

  @AfterEach
  void stop() throws Exception {
    for (AutoCloseable resource : resources) {
      resource.close();
    }
  }

  private static SmtpClient client(int port) throws Exception {
    SmtpClient client = new SmtpClient("127.0.0.1", port);
    assertThat(client.readReply()).startsWith("220");
    assertThat(client.send("EHLO client.test")).startsWith("250");
    return client;
  }

  /** {@code rcptproxy demo ARGS} started as {@code run} starts it, printing to {@code printed}. */
  private Demo.Running demo(ByteArrayOutputStream printed, String... args) {
    String[] all = new String[args.length + 1];
    all[0] = "demo";
    System.arraycopy(args, 0, all, 1, args.length);
    Demo command = CommandRun.parse(Demo.class, all);
    command
        .spec
        .commandLine()
        .setOut(new PrintWriter(new PrintStream(printed, true, StandardCharsets.UTF_8), true));
    Demo.Running demo = command.start();
    resources.add(demo);
    return demo;
  }

  @Test
  void demoAnswersAsItPrints() throws Exception {
    ByteArrayOutputStream printed = new ByteArrayOutputStream();
    Demo.Running demo = demo(printed, "--listen", "127.0.0.1:0");
    String text = printed.toString(StandardCharsets.UTF_8);
    Matcher listening = Pattern.compile("listening on 127\\.0\\.0\\.1:(\\d+)").matcher(text);
    assertThat(listening.find()).as(text).isTrue();
    assertThat(text)
        .contains("alice@example.com")
        .contains("550 5.1.1 Unable to relay to nobody@example.com");

    try (SmtpClient client = client(Integer.parseInt(listening.group(1)))) {
      assertThat(client.send("MAIL FROM:<you@example.net>")).startsWith("250");
      assertThat(client.send("RCPT TO:<alice@example.com>")).isEqualTo("250 Ok");
      assertThat(client.send("DATA")).startsWith("354");
      assertThat(client.send("Subject: demo\r\n\r\nhello\r\n.")).startsWith("250");
      assertThat(client.send("MAIL FROM:<you@example.net>")).startsWith("250");
      assertThat(client.send("RCPT TO:<nobody@example.com>"))
          .isEqualTo("550 5.1.1 Unable to relay to nobody@example.com");
      assertThat(client.send("RCPT TO:<bob@example.com>"))
          .as("no hang-up at the first unknown recipient: bob's copy is not deferred")
          .isEqualTo("250 Ok");
      assertThat(client.send("DATA")).startsWith("354");
      assertThat(client.send("Subject: demo\r\n\r\nagain\r\n.")).startsWith("250");
    }
    assertThat(demo.backend().getMessages()).hasSize(2);
  }

  @Test
  void demoTakesTheGatewaysOptionsAndLeavesThoseGivenToTheCommandLine() throws Exception {
    ByteArrayOutputStream printed = new ByteArrayOutputStream();
    Demo.Running demo =
        demo(
            printed,
            "--listen",
            "127.0.0.1:0",
            "--reject-code",
            "554",
            "--domain",
            "example.com,example.org",
            "--no-disconnect");
    try (SmtpClient client = client(demo.gateway().port())) {
      assertThat(client.send("MAIL FROM:<you@example.net>")).startsWith("250");
      assertThat(client.send("RCPT TO:<nobody@example.com>"))
          .isEqualTo("554 5.1.1 Unable to relay to nobody@example.com");
      assertThat(client.send("RCPT TO:<nobody@example.org>")).startsWith("554 5.1.1");
    }
  }
}
