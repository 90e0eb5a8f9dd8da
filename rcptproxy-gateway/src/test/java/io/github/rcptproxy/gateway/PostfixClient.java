package io.github.rcptproxy.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.testing.PostfixBackend;
import io.github.rcptproxy.testing.SmtpClient;
import java.util.List;

/**
 * A real Postfix as the gateway's client: a site's outbound server with the gateway as relayhost.
 */
public final class PostfixClient {
  public static final String SENDER = "sender@client.test";

  private PostfixClient() {}

  /** Postfix as a site's outbound server: trusts loopback, relays everything to the gateway. */
  public static PostfixBackend of(RunningGateway gateway) {
    return PostfixBackend.start(
        List.of(
            "myhostname = mx.client.test",
            "mynetworks = 127.0.0.0/8",
            "virtual_mailbox_domains =",
            "relayhost = [127.0.0.1]:" + gateway.port(),
            // the bounce to the sender stays here, discarded, rather than go to the gateway too
            "transport_maps = inline:{client.test=discard:}"));
  }

  /** One message from {@link #SENDER} to {@code recipients}, handed to {@code client}. */
  public static void submit(PostfixBackend client, List<String> recipients) throws Exception {
    try (SmtpClient smtp = new SmtpClient("127.0.0.1", client.port())) {
      assertThat(smtp.readReply()).startsWith("220");
      assertThat(smtp.send("EHLO submitter.client.test")).startsWith("250");
      assertThat(smtp.send("MAIL FROM:<" + SENDER + ">")).startsWith("250");
      for (String recipient : recipients) {
        assertThat(smtp.send("RCPT TO:<" + recipient + ">")).startsWith("250");
      }
      assertThat(smtp.send("DATA")).startsWith("354");
      assertThat(smtp.send("Subject: through the gateway\r\n\r\nhello\r\n.")).startsWith("250");
      smtp.send("QUIT");
    }
  }
}
