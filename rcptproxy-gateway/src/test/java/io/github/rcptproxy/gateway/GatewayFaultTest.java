package io.github.rcptproxy.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.VerifierStats;
import io.github.rcptproxy.testing.BackendFault;
import io.github.rcptproxy.testing.ScriptedSmtpServer;
import io.github.rcptproxy.testing.SmtpClient;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Every backend fault, through the whole gateway: the client's RCPT is answered within the
 * verification deadline and the relay's own question (the verifier cannot say, so the relay asks
 * the backend with the client's envelope), {@code 250} only where the backend accepted the
 * recipient; the message is then relayed or refused with a clear reply — never accepted and dropped
 * — and no backend session leaks (sessions the verifier opened and had not closed once the gateway
 * stopped). Prints one row per fault for docs/reliability.md.
 */
class GatewayFaultTest {
  private static final Duration DEADLINE = Duration.ofMillis(500);
  private static final Duration MARGIN = Duration.ofMillis(200);
  private static final Duration RELAY_TIMEOUT = Duration.ofSeconds(1);

  @BeforeAll
  static void header() {
    System.out.println(
        "| backend fault | client's RCPT reply | RCPT answered in | client's reply to the message | sessions leaked |");
  }

  @AfterAll
  static void footer() {
    System.out.println();
  }

  @ParameterizedTest
  @EnumSource(BackendFault.class)
  void faultyBackendNeitherHangsNorLosesMail(BackendFault fault) throws Exception {
    try (ScriptedSmtpServer backend = ScriptedSmtpServer.start(fault.script())) {
      RunningGateway gateway =
          TestGateway.start(
              backend.port(),
              "example.com",
              s -> s.verifier(v -> v.deadline(DEADLINE)).relayTimeout(RELAY_TIMEOUT));
      String rcpt;
      Duration answeredIn;
      String message;
      try (gateway;
          SmtpClient client = new SmtpClient("127.0.0.1", gateway.port())) {
        client.readReply();
        client.send("EHLO client.test");
        client.send("MAIL FROM:<you@example.net>");

        long start = System.nanoTime();
        rcpt = client.send("RCPT TO:<alice@example.com>");
        answeredIn = Duration.ofNanos(System.nanoTime() - start);

        // The verifier's deadline, then the relay's question: connecting and greeting within the
        // relay timeout, its replies within the deadline.
        assertThat(answeredIn)
            .isLessThan(DEADLINE.multipliedBy(2).plus(RELAY_TIMEOUT).plus(MARGIN));
        if (fault == BackendFault.CATCH_ALL) {
          assertThat(rcpt).startsWith("250");
        } else {
          // The backend cannot take it: the client keeps it, nothing is accepted unasked.
          assertThat(rcpt).matches("4\\d\\d .*");
        }
        if (rcpt.startsWith("250")) {
          client.send("DATA");
          message = client.send("Subject: fault\r\n\r\nhello\r\n.");
          assertThat(message).startsWith("250");
          assertThat(backend.received()).contains("hello\r\n.\r\n");
        } else {
          message = null;
        }
      }
      // Stopped: every backend session the verifier opened must be closed by now.
      VerifierStats stats = gateway.verifier().stats();
      long leaked = stats.sessionsOpened() - stats.sessionsClosed();
      System.out.printf(
          "| %s | `%s` | %d ms | %s | %d |%n",
          fault.description(),
          rcpt,
          answeredIn.toMillis(),
          message == null ? "not sent" : "`" + message + "`",
          leaked);
      assertThat(leaked).as("backend sessions left open after the gateway stopped").isZero();
    }
  }
}
