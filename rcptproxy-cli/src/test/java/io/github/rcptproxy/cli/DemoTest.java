package io.github.rcptproxy.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.testing.SmtpClient;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
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

  @Test
  void demoAnswersAsItPrints() throws Exception {
    ByteArrayOutputStream printed = new ByteArrayOutputStream();
    Demo demo =
        Demo.start(
            new String[] {"--demo", "--listen", "127.0.0.1:0"},
            new PrintStream(printed, true, StandardCharsets.UTF_8));
    resources.add(demo);
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
      assertThat(client.readReply()).isNull();
    }
    assertThat(demo.backend().getMessages()).hasSize(1);
  }
}
