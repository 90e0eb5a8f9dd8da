package io.github.rcptproxy.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.RecipientVerifier;
import io.github.rcptproxy.postfix.PolicyServer;
import io.github.rcptproxy.testing.SmtpClient;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.subethamail.smtp.MessageHandler;
import org.subethamail.smtp.MessageHandlerFactory;
import org.subethamail.smtp.server.SMTPServer;
import org.subethamail.wiser.Wiser;

/** Each example does what its Javadoc says, against a backend that knows only alice@example.com. */
class ExamplesTest {
  private Wiser backend;

  @BeforeEach
  void startBackend() {
    backend =
        Wiser.accepter((from, recipient) -> recipient.equals("alice@example.com"))
            .server(SMTPServer.port(0).bindAddress(InetAddress.getLoopbackAddress()));
    backend.start();
  }

  @AfterEach
  void stopBackend() {
    backend.stop();
  }

  private int backendPort() {
    return backend.getServer().getPortAllocated();
  }

  @Test
  void verifyFromJavaPrintsWhatAnSmtpServerWouldAnswer() {
    ByteArrayOutputStream printed = new ByteArrayOutputStream();
    PrintStream out = System.out;
    System.setOut(new PrintStream(printed, true, StandardCharsets.UTF_8));
    try {
      VerifyFromJava.main(
          new String[] {
            "127.0.0.1", String.valueOf(backendPort()), "alice@example.com", "nobody@example.com"
          });
    } finally {
      System.setOut(out);
    }
    assertThat(printed.toString(StandardCharsets.UTF_8).lines())
        .containsExactly("alice@example.com: 250 OK", "nobody@example.com: 550 5.1.1 unknown user");
  }

  @Test
  void subEthaSmtpFrontRefusesUnknownRecipientsAtRcpt() throws Exception {
    List<String> seen = new CopyOnWriteArrayList<>();
    MessageHandlerFactory yours = context -> recording(seen);
    try (RecipientVerifier verifier = SubEthaSmtpFront.verifier("127.0.0.1", backendPort())) {
      SMTPServer front = SubEthaSmtpFront.start(0, verifier, yours);
      try (SmtpClient client = new SmtpClient("127.0.0.1", front.getPortAllocated())) {
        assertThat(client.readReply()).startsWith("220");
        assertThat(client.send("EHLO client.test")).startsWith("250");
        assertThat(client.send("MAIL FROM:<you@example.net>")).startsWith("250");
        assertThat(client.send("RCPT TO:<alice@example.com>")).startsWith("250");
        assertThat(client.send("RCPT TO:<nobody@example.com>")).startsWith("550 5.1.1");
      } finally {
        front.stop();
      }
    }
    assertThat(seen).containsExactly("alice@example.com");
  }

  @Test
  void policyServerAnswersPostfixPerRecipient() throws Exception {
    try (RecipientVerifier verifier = SubEthaSmtpFront.verifier("127.0.0.1", backendPort());
        PolicyServer server = PolicyServerFromJava.start(0, verifier);
        Socket postfix =
            new Socket("127.0.0.1", ((InetSocketAddress) server.address()).getPort())) {
      postfix.setSoTimeout(10_000);
      assertThat(ask(postfix, "alice@example.com")).isEqualTo("action=DUNNO");
      assertThat(ask(postfix, "nobody@example.com")).startsWith("action=550 5.1.1");
    }
  }

  /** One request as Postfix sends it, and the action line of the answer. */
  private static String ask(Socket socket, String recipient) throws Exception {
    String request =
        "request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n"
            + "client_address=192.0.2.1\nsender=you@example.net\nrecipient="
            + recipient
            + "\n\n";
    OutputStream out = socket.getOutputStream();
    out.write(request.getBytes(StandardCharsets.US_ASCII));
    out.flush();
    InputStream in = socket.getInputStream();
    StringBuilder answer = new StringBuilder();
    while (!answer.toString().endsWith("\n\n")) {
      int b = in.read();
      if (b < 0) {
        break;
      }
      answer.append((char) b);
    }
    return answer.toString().lines().findFirst().orElse("");
  }

  private static MessageHandler recording(List<String> recipients) {
    return new MessageHandler() {
      @Override
      public void from(String from) {}

      @Override
      public void recipient(String recipient) {
        recipients.add(recipient);
      }

      @Override
      public String data(InputStream data) throws java.io.IOException {
        data.readAllBytes();
        return null;
      }

      @Override
      public void done() {}
    };
  }

  /** The replies to a pipelined group go out at once, not each after the client's delayed ACK. */
  @Test
  void theSubEthaSmtpFrontsConnectionsSendWithoutDelay() throws Exception {
    try (ServerSocket server = SubEthaSmtpFront.noDelayServerSocket()) {
      server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
      try (Socket client = new Socket(InetAddress.getLoopbackAddress(), server.getLocalPort());
          Socket accepted = server.accept()) {
        assertThat(accepted.getTcpNoDelay()).isTrue();
      }
    }
  }
}
