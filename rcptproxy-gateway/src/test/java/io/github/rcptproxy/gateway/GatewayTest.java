package io.github.rcptproxy.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.rcptproxy.testing.PostfixBackend;
import io.github.rcptproxy.testing.RealServers;
import io.github.rcptproxy.testing.ScriptedSmtpServer;
import io.github.rcptproxy.testing.SmtpClient;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.subethamail.smtp.server.SMTPServer;
import org.subethamail.wiser.Wiser;
import org.subethamail.wiser.WiserMessage;

/** The gateway as a user runs it: real front, real backend, real client over sockets. */
@RealServers
class GatewayTest {
  private static final Set<String> MAILBOXES =
      Set.of("alice@example.com", "bob@example.com", "postmaster@example.com");

  private final List<AutoCloseable> resources = new ArrayList<>();

  @AfterEach
  void stop() throws Exception {
    for (AutoCloseable resource : resources) {
      resource.close();
    }
  }

  private Wiser wiser() {
    Wiser wiser =
        Wiser.accepter((from, to) -> MAILBOXES.contains(to))
            .server(
                SMTPServer.port(0)
                    .bindAddress(InetAddress.getLoopbackAddress())
                    .insertReceivedHeaders(false));
    wiser.start();
    resources.add(wiser::stop);
    return wiser;
  }

  /** A gateway verifying every client (no bypass), for example.com. */
  private RunningGateway gateway(int backendPort) {
    return gateway(backendPort, settings -> {});
  }

  private RunningGateway gateway(int backendPort, Consumer<GatewaySettings.Builder> extra) {
    RunningGateway gateway = TestGateway.start(backendPort, "example.com", extra);
    resources.add(0, gateway);
    return gateway;
  }

  private static SmtpClient client(int port) throws Exception {
    SmtpClient client = new SmtpClient("127.0.0.1", port);
    assertThat(client.readReply()).startsWith("220");
    assertThat(client.send("EHLO client.test")).startsWith("250");
    return client;
  }

  @Test
  void relayedMailArrivesByteIdenticalBelowItsReceivedHeaderAndOnlyForAcceptedRecipients()
      throws Exception {
    Wiser backend = wiser();
    RunningGateway gateway =
        gateway(backend.getServer().getPortAllocated(), TestGateway.noDisconnect());
    String message =
        "From: you@example.net\r\nTo: alice@example.com\r\nSubject: =?UTF-8?Q?gr=C3=BC=C3=9Fe?=\r\n"
            + "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            + "Grüße aus dem Test\r\n.a line starting with a dot\r\n"
            + "x".repeat(900)
            + "\r\n\r\nend\r\n";

    try (SmtpClient client = client(gateway.port())) {
      client.send("MAIL FROM:<you@example.net>");
      assertThat(client.send("RCPT TO:<alice@example.com>")).startsWith("250");
      assertThat(client.send("RCPT TO:<nobody@example.com>")).startsWith("550");
      assertThat(client.send("RCPT TO:<bob@example.com>")).startsWith("250");
      assertThat(client.send("DATA")).startsWith("354");
      assertThat(client.send(message.replace("\r\n.a", "\r\n..a") + ".")).startsWith("250");
    }

    assertThat(backend.getMessages()).hasSize(2); // Wiser keeps one copy per recipient
    for (WiserMessage received : backend.getMessages()) {
      assertThat(received.getEnvelopeSender()).isEqualTo("you@example.net");
      String data = new String(received.getData(), StandardCharsets.UTF_8);
      assertThat(data).startsWith("Received: from client.test ([127.0.0.1])\r\n");
      assertThat(data.substring(data.indexOf("\r\nFrom: ") + 2)).isEqualTo(message);
    }
    assertThat(backend.getMessages())
        .extracting(WiserMessage::getEnvelopeReceiver)
        .containsExactlyInAnyOrder("alice@example.com", "bob@example.com");
  }

  @Test
  void unknownDomainIsRelayingDenied() throws Exception {
    RunningGateway gateway = gateway(wiser().getServer().getPortAllocated());
    try (SmtpClient client = client(gateway.port())) {
      client.send("MAIL FROM:<you@example.net>");
      assertThat(client.send("RCPT TO:<alice@example.org>")).isEqualTo("550 5.7.1 Relaying denied");
    }
    assertThat(gateway.verifier().stats().verifications()).isZero();
  }

  @Test
  void backendRejectingTheMessageGivesTheClientItsCodeButNotItsText() throws Exception {
    ScriptedSmtpServer backend =
        backendAnsweringDataWith(
            "554 5.7.1 rejected by spamd on mx-internal-7.corp.local [10.9.8.7]\r\n");
    RunningGateway gateway = gateway(backend.port());
    try (SmtpClient client = client(gateway.port())) {
      client.send("MAIL FROM:<you@example.net>");
      assertThat(client.send("RCPT TO:<alice@example.com>")).startsWith("250");
      client.send("DATA");
      assertThat(client.send("Subject: x\r\n\r\nbody\r\n."))
          .isEqualTo("554 5.7.1 Message rejected");
    }
  }

  @Test
  void backendTemporaryFailureAtDataIsATemporaryFailureForTheClient() throws Exception {
    ScriptedSmtpServer backend =
        backendAnsweringDataWith("451 4.3.0 Queue full on mx-internal-7.corp.local\r\n");
    RunningGateway gateway = gateway(backend.port());
    try (SmtpClient client = client(gateway.port())) {
      client.send("MAIL FROM:<you@example.net>");
      client.send("RCPT TO:<alice@example.com>");
      client.send("DATA");
      assertThat(client.send("Subject: x\r\n\r\nbody\r\n."))
          .isEqualTo("451 4.3.0 Message not accepted now, try again later");
    }
  }

  @Test
  void backendGoneAtRelayTimeIsATemporaryFailure() throws Exception {
    ScriptedSmtpServer backend = backendAnsweringDataWith("250 2.0.0 queued\r\n");
    RunningGateway gateway = gateway(backend.port());
    try (SmtpClient client = client(gateway.port())) {
      client.send("MAIL FROM:<you@example.net>");
      assertThat(client.send("RCPT TO:<alice@example.com>")).startsWith("250");
      backend.close(); // the backend goes away between RCPT and DATA
      client.send("DATA");
      assertThat(client.send("Subject: x\r\n\r\nbody\r\n.")).startsWith("451 4.4.");
    }
  }

  @Test
  void recipientRefusedAtRelayTimeTempfailsTheWholeMessage() throws Exception {
    List<String> rcpts = new ArrayList<>();
    ScriptedSmtpServer backend =
        ScriptedSmtpServer.start(
            connection -> {
              connection.write("220 backend\r\n");
              for (String line = connection.readLine();
                  line != null;
                  line = connection.readLine()) {
                if (line.startsWith("RCPT")) {
                  rcpts.add(line);
                  // verification says yes; by the time the message comes, the mailbox is gone
                  connection.write(rcpts.size() == 1 ? "250 Ok\r\n" : "550 5.1.1 gone\r\n");
                } else if (line.startsWith("DATA")) {
                  connection.write("354 go\r\n");
                } else {
                  connection.write("250 Ok\r\n");
                }
              }
            });
    resources.add(backend);
    RunningGateway gateway = gateway(backend.port());
    try (SmtpClient client = client(gateway.port())) {
      client.send("MAIL FROM:<you@example.net>");
      assertThat(client.send("RCPT TO:<alice@example.com>")).startsWith("250");
      client.send("DATA");
      assertThat(client.send("Subject: x\r\n\r\nbody\r\n.")).startsWith("451");
    }
    assertThat(backend.received()).doesNotContain("DATA");
  }

  @Test
  void bareLineEndsInsideDataAreRefusedAndNothingReachesTheBackend() throws Exception {
    Wiser backend = wiser();
    RunningGateway gateway =
        gateway(backend.getServer().getPortAllocated(), TestGateway.noDisconnect());
    List<String> finalReplies = new ArrayList<>();
    String[] payloads = {"\n.\n", "\r.\r", "\r\n.\n", "\n.\r\n", "\r.\r\n"};
    for (String smuggle : payloads) {
      try (SmtpClient client = client(gateway.port())) {
        client.send("MAIL FROM:<you@example.net>");
        client.send("RCPT TO:<alice@example.com>");
        client.send("DATA");
        client.sendRaw(
            "Subject: smuggle\r\n\r\nhello"
                + smuggle
                + "MAIL FROM:<evil@evil.test>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\nsmuggled\r\n.\r\n");
        for (String reply = client.readReply();
            reply != null;
            reply = client.send("QUIT").startsWith("221") ? null : client.readReply()) {
          finalReplies.add(reply);
          if (reply.startsWith("250") || reply.startsWith("5") || reply.startsWith("4")) {
            break;
          }
        }
      }
    }
    // Each payload stayed inside one message, and that message was refused after its end: the
    // smuggled commands never ran, and nothing reached the backend.
    assertThat(backend.getMessages()).isEmpty();
    assertThat(finalReplies)
        .hasSize(payloads.length)
        .allMatch(reply -> reply.startsWith("554 5.6.0"));
  }

  @Test
  void limitsOnRecipientsAndMessageSize() throws Exception {
    Wiser backend = wiser();
    RunningGateway gateway =
        gateway(
            backend.getServer().getPortAllocated(),
            settings -> settings.maxRecipients(1).maxMessageSize(1000));
    try (SmtpClient client = client(gateway.port())) {
      client.send("MAIL FROM:<you@example.net>");
      assertThat(client.send("RCPT TO:<alice@example.com>")).startsWith("250");
      assertThat(client.send("RCPT TO:<bob@example.com>")).startsWith("452");
      client.send("DATA");
      assertThat(client.send("Subject: big\r\n\r\n" + "x".repeat(2000) + "\r\n."))
          .startsWith("552");
    }
    assertThat(backend.getMessages()).isEmpty();
  }

  @Test
  void configFileIsReloadedWhenItChangesThroughTheReaderItWasGiven(@TempDir Path dir)
      throws Exception {
    int backendPort = wiser().getServer().getPortAllocated();
    // The file holds the rejection message; the reader turns it into settings (the command line
    // gives a reader that parses the whole file the same way as at start).
    Path config = dir.resolve("reject-message.txt");
    Supplier<GatewaySettings> reader =
        () ->
            TestGateway.settings(
                backendPort, "example.com", s -> s.policy(p -> p.rejectMessage(read(config))));
    Files.writeString(config, "First @");
    RunningGateway gateway =
        RunningGateway.start(reader.get(), new RunningGateway.ConfigFile(config, reader));
    resources.add(0, gateway);
    assertThat(rejectionFor(gateway)).isEqualTo("550 5.1.1 First nobody@example.com");

    Files.writeString(config, "Second @");
    Files.setLastModifiedTime(config, FileTime.fromMillis(System.currentTimeMillis() + 2000));
    await().atMost(Duration.ofSeconds(10)).until(() -> rejectionFor(gateway).contains("Second"));

    // A file the reader refuses (a blank message) is logged and the running config stays.
    Files.writeString(config, " ");
    Files.setLastModifiedTime(config, FileTime.fromMillis(System.currentTimeMillis() + 4000));
    await().atMost(Duration.ofSeconds(10)).until(() -> gateway.reloadsRefused() == 1);
    assertThat(rejectionFor(gateway)).contains("Second");
  }

  private static String read(Path file) {
    try {
      return Files.readString(file);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static String rejectionFor(RunningGateway gateway) throws Exception {
    try (SmtpClient client = client(gateway.port())) {
      client.send("MAIL FROM:<you@example.net>");
      client.send("RCPT TO:<alice@example.com>"); // an address Wiser accepts: the control
      return client.send("RCPT TO:<nobody@example.com>");
    }
  }

  @Test
  void shutdownLetsAMessageInFlightFinishAndRefusesNewOnes() throws Exception {
    CountDownLatch inData = new CountDownLatch(1);
    ScriptedSmtpServer backend =
        ScriptedSmtpServer.start(
            ScriptedSmtpServer.dialogue(
                address -> "250 2.1.5 Ok\r\n",
                endOfData -> {
                  inData.countDown();
                  Thread.sleep(500);
                  return "250 2.0.0 queued\r\n";
                }));
    resources.add(backend);
    RunningGateway gateway = TestGateway.start(backend.port(), "example.com");
    try (SmtpClient client = client(gateway.port());
        SmtpClient late = client(gateway.port())) {
      client.send("MAIL FROM:<you@example.net>");
      client.send("RCPT TO:<alice@example.com>");
      client.send("DATA");
      client.sendRaw("Subject: x\r\n\r\nbody\r\n.\r\n");
      assertThat(inData.await(5, TimeUnit.SECONDS)).isTrue();

      CompletableFuture<Void> stopping = CompletableFuture.runAsync(gateway::close);
      assertThat(client.readReply()).isEqualTo("250 Ok"); // SubEthaSMTP's own reply after our relay
      stopping.get(10, TimeUnit.SECONDS);
      assertThat(late.send("MAIL FROM:<you@example.net>"))
          .satisfiesAnyOf(
              reply -> assertThat(reply).isNull(), reply -> assertThat(reply).startsWith("421"));
    }
    assertThat(backend.received()).contains("body\r\n.\r\n");
  }

  @Test
  void relaysToRealPostfix() throws Exception {
    PostfixBackend postfix = PostfixBackend.shared();
    RunningGateway gateway = TestGateway.start(postfix.port(), PostfixBackend.DOMAIN);
    resources.add(0, gateway);
    try (SmtpClient client = client(gateway.port())) {
      client.send("MAIL FROM:<you@example.net>");
      assertThat(client.send("RCPT TO:<" + PostfixBackend.known(11) + ">")).startsWith("250");
      client.send("DATA");
      assertThat(
              client.send(
                  "Subject: via gateway\r\nMessage-ID: <gateway-test-11@example.net>\r\n\r\nhello\r\n."))
          .startsWith("250");
    }
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> postfix.log().contains("to=<" + PostfixBackend.known(11) + ">"));
  }

  /**
   * The forms a Postfix front takes for an address are verified and relayed as the mailbox they
   * name, as the policy server decides them ({@code PostfixFrontTest}): the unknown one refused in
   * every form, the known one relayed in its one form.
   */
  @ParameterizedTest(name = "{0}")
  @ValueSource(
      strings = {
        "%s@example.test.",
        "%s@EXAMPLE.TEST.",
        "\"%s\"@example.test",
        "@relay.example:%s@Example.Test."
      })
  void everyFormOfAnAddressIsVerifiedAndRelayedAsTheMailboxItNames(String form) throws Exception {
    PostfixBackend postfix = PostfixBackend.shared();
    RunningGateway gateway =
        TestGateway.start(
            postfix.port(),
            PostfixBackend.DOMAIN,
            s -> s.verifier(v -> v.knownGood(PostfixBackend.known(0))));
    resources.add(0, gateway);
    String known = "user" + (20 + Math.floorMod(form.hashCode(), 500));
    try (SmtpClient client = client(gateway.port())) {
      client.send("MAIL FROM:<you@example.net>");
      assertThat(client.send("RCPT TO:<" + form.formatted("nobody") + ">")).startsWith("550 5.1.1");
      assertThat(client.send("RCPT TO:<" + form.formatted(known) + ">")).startsWith("250");
      client.send("DATA");
      assertThat(client.send("Subject: one form\r\n\r\nhello\r\n.")).startsWith("250");
    }
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () ->
                assertThat(postfix.log())
                    .contains("to=<" + known + "@example.test>, relay=")
                    .doesNotContain("orig_to=<" + form.formatted(known)));
  }

  private ScriptedSmtpServer backendAnsweringDataWith(String finalReply) {
    ScriptedSmtpServer backend =
        ScriptedSmtpServer.start(
            ScriptedSmtpServer.dialogue(address -> "250 2.1.5 Ok\r\n", endOfData -> finalReply));
    resources.add(backend);
    return backend;
  }
}
