package io.github.rcptproxy.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.rcptproxy.testing.EximBackend;
import io.github.rcptproxy.testing.PostfixBackend;
import io.github.rcptproxy.testing.RealServers;
import io.github.rcptproxy.testing.SmtpClient;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A real Exim as the gateway's client (a site's outbound server with the gateway as its smarthost),
 * as {@code PostfixClientTest} has Postfix: a message for a valid recipient, a typo and another
 * valid recipient. Exim bounces the typo at once and delivers both valid recipients at the first
 * attempt, once each, behind the gateway (a real Postfix).
 */
@RealServers
class EximClientTest {
  @Test
  void aTypoIsBouncedByEximAndTheValidCoRecipientsAreDeliveredAtTheFirstAttempt() throws Exception {
    PostfixBackend backend = PostfixBackend.shared();
    String user = PostfixBackend.known(771);
    String nouser = PostfixBackend.unknown(771);
    String user2 = PostfixBackend.known(772);
    try (RunningGateway gateway =
            TestGateway.start(
                backend.port(),
                PostfixBackend.DOMAIN,
                s -> s.verifier(v -> v.knownGood(PostfixBackend.known(0))));
        EximBackend exim =
            EximBackend.start(EximBackend.Options.builder().smarthost(gateway.port()).build())) {
      try (SmtpClient smtp = new SmtpClient("127.0.0.1", exim.port())) {
        assertThat(smtp.readReply()).startsWith("220");
        assertThat(smtp.send("EHLO submitter.client.test")).startsWith("250");
        assertThat(smtp.send("MAIL FROM:<sender@client.test>")).startsWith("250");
        for (String recipient : List.of(user, nouser, user2)) {
          assertThat(smtp.send("RCPT TO:<" + recipient + ">")).startsWith("250");
        }
        assertThat(smtp.send("DATA")).startsWith("354");
        assertThat(smtp.send("Subject: through the gateway\r\n\r\nhello\r\n.")).startsWith("250");
        smtp.send("QUIT");
      }
      await()
          .atMost(Duration.ofSeconds(30))
          .untilAsserted(
              () -> {
                String log = exim.mainLog();
                // "=>" the first delivery of a transaction, "->" the others in it
                assertThat(log.lines().filter(l -> l.matches(".* [=-]> " + user + " .*")))
                    .hasSize(1);
                assertThat(log.lines().filter(l -> l.matches(".* [=-]> " + user2 + " .*")))
                    .hasSize(1);
                assertThat(log.lines().filter(l -> l.contains("** " + nouser)))
                    .singleElement()
                    .asString()
                    .contains("550 5.1.1");
              });
      assertThat(exim.mainLog()).doesNotContain("== ").contains(" K C="); // none deferred; BDAT
      await()
          .atMost(Duration.ofSeconds(30))
          .untilAsserted(
              () -> {
                String log = backend.log();
                assertThat(log.lines().filter(l -> l.contains("to=<" + user + ">"))).hasSize(1);
                assertThat(log.lines().filter(l -> l.contains("to=<" + user2 + ">"))).hasSize(1);
              });
    }
  }
}
