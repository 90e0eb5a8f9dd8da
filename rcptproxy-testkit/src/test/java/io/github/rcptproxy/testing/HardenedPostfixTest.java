package io.github.rcptproxy.testing;

import static io.github.rcptproxy.testing.PostfixBackend.known;
import static io.github.rcptproxy.testing.PostfixBackend.unknown;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Additional Postfix instances with hardened main.cf lines answer as Postfix 3.7 does. */
@RealServers
class HardenedPostfixTest {
  private static final String NON_FQDN_REJECTED =
      "504 5.5.2 <rcptproxy@localhost>: Sender address rejected: need fully-qualified address";
  private static final String CLIENT_REJECTED =
      "554 5.7.1 <unknown[127.0.0.1]>: Client host rejected: Access denied";
  private static PostfixBackend nonFqdnSender;
  private static PostfixBackend clientRejected;

  @BeforeAll
  static void startPostfixes() {
    nonFqdnSender = PostfixBackend.start(PostfixBackend.REJECT_NON_FQDN_SENDER);
    clientRejected = PostfixBackend.start(PostfixBackend.CLIENT_REJECTED);
  }

  @AfterAll
  static void stopPostfixes() {
    for (PostfixBackend postfix : new PostfixBackend[] {nonFqdnSender, clientRejected}) {
      if (postfix != null) {
        postfix.close();
      }
    }
  }

  private static SmtpClient session(PostfixBackend postfix) throws IOException {
    SmtpClient client = new SmtpClient("127.0.0.1", postfix.port());
    assertThat(client.readReply()).startsWith("220 backend.example.test ESMTP Postfix");
    assertThat(client.send("EHLO probe.test")).startsWith("250 ");
    return client;
  }

  @Test
  void rejectsEveryRecipientOfASenderWithoutFullyQualifiedDomain() throws IOException {
    try (SmtpClient client = session(nonFqdnSender)) {
      assertThat(client.send("MAIL FROM:<rcptproxy@localhost>")).isEqualTo("250 2.1.0 Ok");
      assertThat(client.send("RCPT TO:<" + known(1) + ">")).isEqualTo(NON_FQDN_REJECTED);
      assertThat(client.send("RCPT TO:<" + unknown(1) + ">")).isEqualTo(NON_FQDN_REJECTED);
    }
  }

  @Test
  void acceptsAFullyQualifiedOrNullSender() throws IOException {
    try (SmtpClient client = session(nonFqdnSender)) {
      assertThat(client.send("MAIL FROM:<>")).isEqualTo("250 2.1.0 Ok");
      assertThat(client.send("RCPT TO:<" + known(1) + ">")).isEqualTo("250 2.1.5 Ok");
      assertThat(client.send("RCPT TO:<postmaster@" + PostfixBackend.DOMAIN + ">"))
          .isEqualTo("250 2.1.5 Ok");
      assertThat(client.send("RCPT TO:<" + unknown(1) + ">"))
          .startsWith("550 5.1.1 <" + unknown(1) + ">: Recipient address rejected");
    }
  }

  @Test
  void rejectsEveryRecipientFromARejectedClient() throws IOException {
    try (SmtpClient client = session(clientRejected)) {
      assertThat(client.send("MAIL FROM:<>")).isEqualTo("250 2.1.0 Ok");
      assertThat(client.send("RCPT TO:<" + known(1) + ">")).isEqualTo(CLIENT_REJECTED);
      assertThat(client.send("RCPT TO:<" + unknown(1) + ">")).isEqualTo(CLIENT_REJECTED);
    }
  }

  @Test
  void closingAnInstanceStopsItAndUnlistsItsDirectory() throws IOException {
    PostfixBackend postfix = PostfixBackend.start(List.of());
    Path etc = postfix.configDirectory();
    assertThat(Files.readString(Path.of("/etc/postfix/main.cf"))).contains(etc.toString());

    postfix.close();

    assertThat(Files.readString(Path.of("/etc/postfix/main.cf"))).doesNotContain(etc.toString());
    assertThat(Files.readString(Path.of("/etc/postfix/main.cf")))
        .contains(nonFqdnSender.configDirectory().toString());
    assertThatThrownBy(() -> new SmtpClient("127.0.0.1", postfix.port()).close())
        .isInstanceOf(IOException.class);
  }
}
