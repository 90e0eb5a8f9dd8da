package io.github.rcptproxy.gateway.front;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.rcptproxy.gateway.GatewaySettings;
import io.github.rcptproxy.gateway.RunningGateway;
import io.github.rcptproxy.gateway.TestGateway;
import io.github.rcptproxy.testing.EdgeClient;
import io.github.rcptproxy.testing.EsmtpBackend;
import io.github.rcptproxy.testing.ScriptedSmtpServer;
import io.github.rcptproxy.testing.TestCertificates;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The gateway as the internet meets it: clients from a verified (not bypassed) address that cut
 * messages short, trickle, send what they did not declare, or address the postmaster; backends that
 * accept and then misbehave or talk about their internals. Prints one row per behaviour for the
 * tables in docs/reliability.md and docs/gateway.md.
 */
class GatewayEdgeTest {
  private static final String BODY = "Subject: edge\r\n\r\n" + "x".repeat(100) + "\r\n";

  private final List<AutoCloseable> resources = new ArrayList<>();

  @BeforeAll
  static void header() {
    System.out.println("| at the edge | client saw | backend |");
  }

  @AfterAll
  static void footer() {
    System.out.println();
  }

  @AfterEach
  void stop() throws Exception {
    for (AutoCloseable resource : resources) {
      resource.close();
    }
  }

  private ScriptedSmtpServer backend(EsmtpBackend script) {
    ScriptedSmtpServer backend = script.start();
    resources.add(backend);
    return backend;
  }

  private RunningGateway gateway(ScriptedSmtpServer backend) {
    return gateway(backend, settings -> {});
  }

  private RunningGateway gateway(
      ScriptedSmtpServer backend, Consumer<GatewaySettings.Builder> extra) {
    RunningGateway gateway = TestGateway.start(backend.port(), "example.com", extra);
    resources.add(0, gateway);
    return gateway;
  }

  private static EdgeClient inTransaction(RunningGateway gateway, String recipient)
      throws Exception {
    EdgeClient client = EdgeClient.connect(gateway.port());
    assertThat(client.reply()).startsWith("220");
    assertThat(client.send("EHLO client.test")).startsWith("250");
    assertThat(client.send("MAIL FROM:<you@example.net>")).startsWith("250");
    assertThat(client.send("RCPT TO:<" + recipient + ">")).startsWith("250");
    return client;
  }

  private static void row(String behaviour, String client, String backend) {
    System.out.printf("| %s | `%s` | %s |%n", behaviour, client, backend);
  }

  static Stream<Arguments> truncatedChunks() {
    return Stream.of(
        Arguments.of("BDAT 5000 LAST, 80 bytes, then end of input", "BDAT 5000 LAST"),
        Arguments.of("BDAT 5000, 80 bytes, then end of input", "BDAT 5000"),
        Arguments.of(
            "BDAT 99999999999 LAST, 80 bytes, then end of input", "BDAT 99999999999 LAST"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("truncatedChunks")
  void truncatedChunkIsNeverDelivered(String behaviour, String bdat) throws Exception {
    ScriptedSmtpServer backend = backend(EsmtpBackend.wellBehaved());
    RunningGateway gateway = gateway(backend);
    String replies;
    try (EdgeClient client = inTransaction(gateway, "alice@example.com")) {
      client.raw(bdat + "\r\n" + BODY.substring(0, 80));
      client.halfClose();
      replies = client.rest();
    }
    assertThat(replies).doesNotContain("250");
    await()
        .pollDelay(Duration.ofMillis(200))
        .atMost(Duration.ofSeconds(5))
        .until(() -> gateway.verifier().stats().sessionsActive() == 0);
    assertThat(backend.received()).doesNotContain("\r\n.\r\n");
    row(behaviour, replies.isEmpty() ? "connection closed" : replies, "nothing delivered");
  }

  @Test
  void chunkedMessageIsDeliveredWhole() throws Exception {
    ScriptedSmtpServer backend = backend(EsmtpBackend.wellBehaved());
    RunningGateway gateway = gateway(backend);
    byte[] body = BODY.getBytes(StandardCharsets.US_ASCII);
    try (EdgeClient client = inTransaction(gateway, "alice@example.com")) {
      client.raw("BDAT 20\r\n");
      client.raw(Arrays.copyOfRange(body, 0, 20));
      assertThat(client.reply()).startsWith("250");
      client.raw("BDAT " + (body.length - 20) + " LAST\r\n");
      client.raw(Arrays.copyOfRange(body, 20, body.length));
      assertThat(client.reply()).startsWith("250");
      assertThat(client.send("QUIT")).startsWith("221");
    }
    assertThat(backend.received()).contains(BODY + ".\r\n");
  }

  /** Five command lines, 30 bytes: the chunk that must never be run as commands. */
  private static final String NOOPS = "NOOP\r\n".repeat(5);

  /** A chunk over the 1000-byte limit of {@link #refusedChunks}, made of command lines. */
  private static final String NOOPS_OVER_THE_LIMIT = "NOOP\r\n".repeat(170) + "NOOP\r\n\r\n";

  static Stream<Arguments> refusedChunks() {
    return Stream.of(
        Arguments.of(
            "BDAT over the size limit",
            List.of("MAIL FROM:<you@example.net>", "RCPT TO:<alice@example.com>"),
            NOOPS_OVER_THE_LIMIT,
            "552 5.3.4 Message size exceeds fixed limit"),
        Arguments.of(
            "BDAT without MAIL (a chunk over the size limit)",
            List.of(),
            NOOPS_OVER_THE_LIMIT,
            "503 5.5.1 Error: need MAIL command"),
        Arguments.of(
            "BDAT without RCPT (a chunk over the size limit)",
            List.of("MAIL FROM:<you@example.net>"),
            NOOPS_OVER_THE_LIMIT,
            "503 5.5.1 Error: need RCPT command"));
  }

  /**
   * RFC 3030 §2: a refused chunk is still read. The client sends it right behind the BDAT line, so
   * the gateway reads exactly its size and throws it away before its one reply: none of its lines
   * is run as a command, and the session goes on.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("refusedChunks")
  void refusedChunkIsReadAndThrownAway(
      String behaviour, List<String> before, String chunk, String refusal) throws Exception {
    ScriptedSmtpServer backend = backend(EsmtpBackend.wellBehaved());
    RunningGateway gateway = gateway(backend, s -> s.maxMessageSize(1000));
    List<String> replies;
    try (EdgeClient client = EdgeClient.connect(gateway.port())) {
      assertThat(client.reply()).startsWith("220");
      assertThat(client.send("EHLO client.test")).startsWith("250");
      for (String command : before) {
        assertThat(client.send(command)).startsWith("250");
      }
      client.raw("BDAT " + chunk.length() + " LAST\r\n" + chunk + "QUIT\r\n");
      replies = List.of(client.rest().split("\n"));
    }
    assertThat(replies).hasSize(2).startsWith(refusal);
    assertThat(replies.get(1)).as("the session goes on").startsWith("221 ");
    assertThat(backend.received()).doesNotContain("DATA");
    row(behaviour + ", its lines `NOOP`", refusal, "nothing; the chunk read and thrown away");
  }

  /**
   * A later chunk that takes the message over the limit is read and thrown away too: the message
   * fails ({@code 552}, nothing relayed), a chunk the client pipelined after it is outside any
   * transaction ({@code 503}, read and thrown away as well), and the session goes on.
   */
  @Test
  void laterChunkOverTheSizeLimitFailsTheMessageAndTheSessionGoesOn() throws Exception {
    ScriptedSmtpServer backend = backend(EsmtpBackend.wellBehaved());
    RunningGateway gateway = gateway(backend, s -> s.maxMessageSize(1000));
    List<String> replies;
    try (EdgeClient client = inTransaction(gateway, "alice@example.com")) {
      client.raw("BDAT 30\r\n" + NOOPS);
      assertThat(client.reply()).isEqualTo("250 2.0.0 30 octets received");
      client.raw(
          "BDAT "
              + NOOPS_OVER_THE_LIMIT.length()
              + "\r\n"
              + NOOPS_OVER_THE_LIMIT
              + "BDAT 30 LAST\r\n"
              + NOOPS
              + "MAIL FROM:<you@example.net>\r\nQUIT\r\n");
      replies = List.of(client.rest().split("\n"));
    }
    assertThat(replies)
        .hasSize(4)
        .startsWith(
            "552 5.3.4 Message size exceeds fixed limit",
            "503 5.5.1 Error: need MAIL command",
            "250 Ok");
    assertThat(replies.get(3)).startsWith("221 ");
    assertThat(backend.received()).doesNotContain("\r\n.\r\n");
    row(
        "a later BDAT chunk takes the message over the size limit, then `BDAT 30 LAST`",
        replies.get(0) + "`, then `" + replies.get(1),
        "nothing delivered; both chunks read and thrown away");
  }

  /**
   * RFC 3030 §2: RSET aborts a BDAT transaction. The chunks so far are dropped (the backend never
   * gets an end of data for them), and the client can send a new message at once.
   */
  @Test
  void rsetBetweenChunksAbortsTheTransactionAndTheSessionGoesOn() throws Exception {
    ScriptedSmtpServer backend = backend(EsmtpBackend.wellBehaved());
    RunningGateway gateway = gateway(backend);
    String first = "Subject: aborted\r\n\r\nnever delivered\r\n";
    String second = "Subject: second\r\n\r\ndelivered\r\n";
    try (EdgeClient client = inTransaction(gateway, "alice@example.com")) {
      client.raw("BDAT " + first.length() + "\r\n" + first);
      assertThat(client.reply()).startsWith("250 2.0.0");
      assertThat(client.send("RSET")).isEqualTo("250 Ok");
      assertThat(client.send("MAIL FROM:<you@example.net>")).isEqualTo("250 Ok");
      assertThat(client.send("RCPT TO:<bob@example.com>")).startsWith("250");
      client.raw("BDAT " + second.length() + " LAST\r\n" + second);
      assertThat(client.reply()).isEqualTo("250 Ok");
      assertThat(client.send("QUIT")).startsWith("221");
    }
    assertThat(backend.count("\r\n.\r\n")).isEqualTo(1);
    assertThat(backend.received()).contains(second + ".\r\n").doesNotContain(first + ".\r\n");
    row(
        "`RSET` after a BDAT chunk, then a new message",
        "250 Ok",
        "the first message never ended (not delivered), the second delivered");
  }

  static Stream<Arguments> chunksBeforeStarttls() {
    return Stream.of(
        Arguments.of("NOOP lines", NOOPS),
        Arguments.of("STARTTLS and NOOP lines", "STARTTLS\r\n" + NOOPS));
  }

  /**
   * With {@code --require-tls}, BDAT in the clear gets {@code 530}, and its chunk is read and
   * thrown away as any refused chunk: none of its lines is answered, a {@code STARTTLS} inside it
   * never starts TLS, and the session goes on.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("chunksBeforeStarttls")
  void chunkBeforeRequiredStarttlsIsReadAndThrownAway(String behaviour, String chunk)
      throws Exception {
    TestCertificates certificates = TestCertificates.shared();
    ScriptedSmtpServer backend = backend(EsmtpBackend.wellBehaved());
    RunningGateway gateway =
        gateway(
            backend,
            s ->
                s.tls(
                    new GatewaySettings.Tls(
                        certificates.serverCertificate(), certificates.serverKey(), true)));
    List<String> replies;
    try (EdgeClient client = EdgeClient.connect(gateway.port())) {
      assertThat(client.reply()).startsWith("220");
      assertThat(client.send("EHLO client.test")).startsWith("250");
      client.raw("BDAT " + chunk.length() + " LAST\r\n" + chunk + "QUIT\r\n");
      replies = List.of(client.rest().split("\n"));
    }
    assertThat(replies).hasSize(2).startsWith("530 Must issue a STARTTLS command first");
    assertThat(replies.get(1)).as("the session goes on").startsWith("221 ");
    assertThat(backend.received()).doesNotContain("DATA");
    row(
        "`--require-tls`: BDAT in the clear, its chunk " + behaviour,
        replies.get(0),
        "nothing; the chunk read and thrown away, no line of it answered");
  }

  static Stream<Arguments> malformedBdatLines() {
    return Stream.of(
        Arguments.of("BDAT line with a trailing space", "BDAT 6 LAST "),
        Arguments.of("BDAT line with a trailing tab", "BDAT 6 LAST\t"),
        Arguments.of("BDAT line with two spaces", "BDAT  6 LAST"),
        Arguments.of("BDAT line with a tab", "BDAT\t6 LAST"),
        Arguments.of("BDAT line with a tab before LAST", "BDAT 6\tLAST"));
  }

  /**
   * RFC 3030's {@code "BDAT" SP chunk-size [SP end-marker]} and nothing else. The client sends its
   * chunk right behind the line, and nobody can tell how long the chunk of a line that does not
   * parse is: the gateway says why and closes the connection before reading any of it, so no byte
   * of it is ever taken for a command.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("malformedBdatLines")
  void malformedBdatLineIsRefusedAndTheConnectionClosed(String behaviour, String bdat)
      throws Exception {
    ScriptedSmtpServer backend = backend(EsmtpBackend.wellBehaved());
    RunningGateway gateway = gateway(backend);
    String reply;
    try (EdgeClient client = inTransaction(gateway, "alice@example.com")) {
      client.raw(bdat + "\r\nRSET\r\n");
      reply = client.reply();
      assertThat(client.reply())
          .as("RFC 5321 §3.8: 421 before the close")
          .isEqualTo("421 4.5.4 Cannot tell where the chunk ends, closing connection");
      assertThat(client.reply()).as("the connection is closed").isNull();
    }
    assertThat(reply).isEqualTo("501 5.5.4 Syntax: BDAT size [LAST]");
    assertThat(backend.received()).doesNotContain("DATA");
    row(behaviour, reply + "`, then `421", "nothing; the connection closed, the chunk never read");
  }

  /**
   * RFC 3030 forbids nothing between chunks but DATA: NOOP is answered, any other command gets
   * {@code 503} and the next chunk is still due; the message then goes through whole.
   */
  @Test
  void noopAndAStrayCommandBetweenChunksAreAnsweredAndTheMessageGoesOn() throws Exception {
    ScriptedSmtpServer backend = backend(EsmtpBackend.wellBehaved());
    RunningGateway gateway = gateway(backend);
    String first = "Subject: chunks\r\n\r\n";
    String second = "one message\r\n";
    try (EdgeClient client = inTransaction(gateway, "alice@example.com")) {
      client.raw("BDAT " + first.length() + "\r\n" + first);
      assertThat(client.reply()).startsWith("250 2.0.0");
      assertThat(client.send("NOOP")).isEqualTo("250 Ok");
      assertThat(client.send("MAIL FROM:<other@example.net>"))
          .isEqualTo("503 5.5.1 Error: BDAT, RSET, NOOP or QUIT expected");
      client.raw("BDAT " + second.length() + " LAST\r\n" + second);
      assertThat(client.reply()).isEqualTo("250 Ok");
      assertThat(client.send("QUIT")).startsWith("221");
    }
    assertThat(backend.received()).contains(first + second + ".\r\n");
    row(
        "`NOOP`, then `MAIL`, between BDAT chunks",
        "250 Ok`, then `503 5.5.1 Error: BDAT, RSET, NOOP or QUIT expected",
        "the message delivered whole once its LAST chunk came");
  }

  @Test
  void quitBetweenChunksEndsTheSessionAndNothingIsRelayed() throws Exception {
    ScriptedSmtpServer backend = backend(EsmtpBackend.wellBehaved());
    RunningGateway gateway = gateway(backend);
    String first = "Subject: never\r\n\r\nnever delivered\r\n";
    String reply;
    try (EdgeClient client = inTransaction(gateway, "alice@example.com")) {
      client.raw("BDAT " + first.length() + "\r\n" + first);
      assertThat(client.reply()).startsWith("250 2.0.0");
      reply = client.send("QUIT");
      assertThat(client.reply()).as("the connection is closed").isNull();
    }
    assertThat(reply).isEqualTo("221 Bye");
    assertThat(backend.received()).doesNotContain("\r\n.\r\n");
    row("`QUIT` between BDAT chunks", reply, "nothing; the message never ended");
  }

  /**
   * RFC 3030's chunk size is {@code 1*DIGIT}: leading zeros are read past; a size of more than 18
   * digits is over any size limit and too large to read and throw away: {@code 552}, then {@code
   * 421} and the close (Postfix: {@code 521} and the close), before any of the chunk is read.
   */
  @Test
  void chunkSizeOfMoreThanEighteenDigitsIsRefusedWith552Then421() throws Exception {
    ScriptedSmtpServer backend = backend(EsmtpBackend.wellBehaved());
    RunningGateway gateway = gateway(backend);
    String body = "Subject: zeros\r\n\r\nhi\r\n";
    List<String> replies = new ArrayList<>();
    try (EdgeClient client = inTransaction(gateway, "alice@example.com")) {
      client.raw("BDAT " + "0".repeat(30) + body.length() + " LAST\r\n" + body);
      assertThat(client.reply()).as("leading zeros read past").isEqualTo("250 Ok");
      assertThat(client.send("MAIL FROM:<you@example.net>")).startsWith("250");
      assertThat(client.send("RCPT TO:<alice@example.com>")).startsWith("250");
      client.raw("BDAT 1" + "0".repeat(19) + " LAST\r\nRSET\r\n");
      replies.add(client.reply());
      replies.add(client.reply());
      assertThat(client.reply()).as("the connection is closed").isNull();
    }
    assertThat(replies)
        .containsExactly(
            "552 5.3.4 Message size exceeds fixed limit",
            "421 4.3.4 Chunk too large to read, closing connection");
    assertThat(backend.count("\r\n.\r\n")).isEqualTo(1);
    row(
        "`BDAT` with a 20-digit size (and one with 30 leading zeros before)",
        replies.get(0) + "`, then `" + replies.get(1),
        "the first message delivered; nothing of the second, its chunk never read");
  }

  static Stream<Arguments> bareLineEnds() {
    String smuggled = "MAIL FROM:<evil@evil.test>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\nevil\r\n";
    String head = "Subject: smuggle\r\n\r\nhello";
    return Stream.of(
        Arguments.of("DATA with `\\n.\\n` inside", "DATA", head + "\n.\n" + smuggled),
        Arguments.of("DATA with `\\r.\\r` inside", "DATA", head + "\r.\r" + smuggled),
        Arguments.of("DATA with `\\r\\n.\\n` inside", "DATA", head + "\r\n.\n" + smuggled),
        Arguments.of("DATA with `\\n.\\r\\n` inside", "DATA", head + "\n.\r\n" + smuggled),
        Arguments.of("DATA with `\\r.\\r\\n` inside", "DATA", head + "\r.\r\n" + smuggled),
        Arguments.of("DATA with a bare LF at the end", "DATA", head + "\nevil\r\n"),
        Arguments.of("BDAT with a bare LF", "BDAT", head + "\n.\n" + smuggled),
        Arguments.of("BDAT with a bare CR", "BDAT", head + "\r.\r" + smuggled),
        Arguments.of("BDAT ending in a bare CR", "BDAT", head + "\r\nend\r"),
        Arguments.of("BDAT with a last line without CRLF", "BDAT", head + "\r\nend"));
  }

  /**
   * A bare CR or LF is refused, never made CRLF (SMTP smuggling: a later hop may take {@code \n.\n}
   * for the end of data), after the end of the message: nothing reaches the backend's end of data,
   * nothing after the bare line end reaches the backend at all, and the session goes on. So is a
   * last line without CRLF, never given one.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("bareLineEnds")
  void messageWithABareLineEndIsRefusedAndNothingIsRelayed(
      String behaviour, String command, String message) throws Exception {
    ScriptedSmtpServer backend = backend(EsmtpBackend.wellBehaved());
    RunningGateway gateway = gateway(backend);
    String reply;
    try (EdgeClient client = inTransaction(gateway, "alice@example.com")) {
      if (command.equals("DATA")) {
        assertThat(client.send("DATA")).startsWith("354");
        reply = client.send(message + ".");
      } else {
        byte[] bytes = message.getBytes(StandardCharsets.US_ASCII);
        client.raw("BDAT " + bytes.length + " LAST\r\n");
        client.raw(bytes);
        reply = client.reply();
      }
      assertThat(client.send("MAIL FROM:<you@example.net>"))
          .as("the session goes on")
          .isEqualTo("250 Ok");
    }
    assertThat(reply)
        .isEqualTo(
            "554 5.6.0 Message refused: a line not ended by CRLF (a bare CR or LF, or none at the end)");
    assertThat(backend.received()).doesNotContain("\r\n.\r\n").doesNotContain("evil");
    row(behaviour, reply, "nothing delivered, nothing after the bare line end");
  }

  @Test
  void chunksSplittingACrlfAreOneLineEnd() throws Exception {
    ScriptedSmtpServer backend = backend(EsmtpBackend.wellBehaved());
    RunningGateway gateway = gateway(backend);
    try (EdgeClient client = inTransaction(gateway, "alice@example.com")) {
      client.raw("BDAT 17\r\nSubject: split\r\n\r");
      assertThat(client.reply()).startsWith("250");
      client.raw("BDAT 7 LAST\r\n\nbody\r\n");
      assertThat(client.reply()).isEqualTo("250 Ok");
    }
    assertThat(backend.received()).contains("Subject: split\r\n\r\nbody\r\n.\r\n");
  }

  static Stream<Arguments> backendsMisbehavingAfterTheirFinal250() {
    return Stream.of(
        Arguments.of("backend hangs up after its final 250", EsmtpBackend.After.HANG_UP),
        Arguments.of(
            "backend ignores QUIT after its final 250", EsmtpBackend.After.IGNORE_EVERYTHING));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("backendsMisbehavingAfterTheirFinal250")
  void backendsFinal250IsTheClients250(String behaviour, EsmtpBackend.After after)
      throws Exception {
    ScriptedSmtpServer backend = backend(EsmtpBackend.wellBehaved().then(after));
    RunningGateway gateway = gateway(backend, s -> s.relayTimeout(Duration.ofSeconds(1)));
    String reply;
    try (EdgeClient client = inTransaction(gateway, "alice@example.com")) {
      client.send("DATA");
      reply = client.send(BODY + ".");
    }
    assertThat(reply).startsWith("250");
    assertThat(backend.count("\r\n.\r\n")).isEqualTo(1);
    row(behaviour, reply, "one copy");
  }

  static Stream<Arguments> backendsTalkingAboutTheirInternals() {
    String internal = " rejected by spamd on mx-internal-7.corp.local [10.9.8.7]";
    EsmtpBackend ok = EsmtpBackend.wellBehaved();
    return Stream.of(
        Arguments.of("backend greets with 554", ok.withGreeting("554 5.3.2" + internal), "451 "),
        Arguments.of("backend refuses MAIL", ok.withMail("553 5.7.1" + internal), "553 5.7.1 "),
        Arguments.of(
            "backend defers the message", ok.withEndOfData("452 4.3.1" + internal), "452 4.3.1 "),
        Arguments.of(
            "backend refuses the message", ok.withEndOfData("554 5.7.1" + internal), "554 5.7.1 "));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("backendsTalkingAboutTheirInternals")
  void backendInternalsNeverReachTheClient(String behaviour, EsmtpBackend script, String expected)
      throws Exception {
    ScriptedSmtpServer backend = backend(script);
    RunningGateway gateway = gateway(backend);
    String reply;
    try (EdgeClient client = EdgeClient.connect(gateway.port())) {
      assertThat(client.reply()).startsWith("220");
      assertThat(client.send("EHLO client.test")).startsWith("250");
      assertThat(client.send("MAIL FROM:<you@example.net>")).startsWith("250");
      // Where the verifier could not say, the relay asks with the client's envelope at RCPT.
      reply = client.send("RCPT TO:<alice@example.com>");
      if (reply.startsWith("250")) {
        client.send("DATA");
        reply = client.send(BODY + ".");
      }
    }
    assertThat(reply).startsWith(expected).doesNotContain("corp", "10.9", "spamd");
    row(behaviour, reply, "its text only in the gateway's log");
  }

  static Stream<Arguments> lookalikeDomains() {
    return Stream.of(
        Arguments.of("fullwidth domain", "user1@ｅｘａｍｐｌｅ.com"),
        Arguments.of("ideographic full stop", "user1@example。com"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("lookalikeDomains")
  void theAddressRelayedIsTheCanonicalOneThatWasVerified(String behaviour, String recipient)
      throws Exception {
    ScriptedSmtpServer backend = backend(EsmtpBackend.wellBehaved());
    RunningGateway gateway = gateway(backend);
    String reply;
    try (EdgeClient client = EdgeClient.connect(gateway.port())) {
      client.reply();
      client.send("EHLO client.test");
      client.send("MAIL FROM:<you@example.net> SMTPUTF8");
      assertThat(client.send("RCPT TO:<" + recipient + ">")).startsWith("250");
      client.send("DATA");
      reply = client.send(BODY + ".");
    }
    assertThat(reply).startsWith("250");
    String relayed =
        new String(
            backend.received().getBytes(StandardCharsets.ISO_8859_1), StandardCharsets.UTF_8);
    assertThat(relayed).contains("RCPT TO:<user1@example.com>").doesNotContain(recipient);
    row(behaviour + " with SMTPUTF8", reply, "`RCPT TO:<user1@example.com>`");
  }

  @Test
  void trickledCommandLineIsCutAtTheCommandTimeout() throws Exception {
    ScriptedSmtpServer backend = backend(EsmtpBackend.wellBehaved());
    RunningGateway gateway = gateway(backend, s -> s.commandTimeout(Duration.ofSeconds(1)));
    ScheduledExecutorService trickle = Executors.newSingleThreadScheduledExecutor();
    resources.add(trickle::shutdownNow);
    try (EdgeClient client = EdgeClient.connect(gateway.port())) {
      client.reply();
      long start = System.nanoTime();
      trickle.scheduleAtFixedRate(() -> send(client, "E"), 0, 200, TimeUnit.MILLISECONDS);
      String reply = client.reply();
      Duration cut = Duration.ofNanos(System.nanoTime() - start);
      assertThat(reply).startsWith("421");
      assertThat(cut).isBetween(Duration.ofMillis(900), Duration.ofMillis(1900));
      row(
          "a command line trickled a byte per 200 ms",
          reply,
          "cut after " + cut.toMillis() + " ms");
    }
  }

  @Test
  void dataAtOneBytePerSecondIsCutAtTheRelayTimeoutAndNothingIsDelivered() throws Exception {
    ScriptedSmtpServer backend = backend(EsmtpBackend.wellBehaved());
    RunningGateway gateway = gateway(backend, s -> s.relayTimeout(Duration.ofSeconds(2)));
    ScheduledExecutorService trickle = Executors.newSingleThreadScheduledExecutor();
    resources.add(trickle::shutdownNow);
    try (EdgeClient client = inTransaction(gateway, "alice@example.com")) {
      assertThat(client.send("DATA")).startsWith("354");
      long start = System.nanoTime();
      trickle.scheduleAtFixedRate(() -> send(client, "x"), 0, 1, TimeUnit.SECONDS);
      String reply = client.reply();
      Duration cut = Duration.ofNanos(System.nanoTime() - start);
      assertThat(reply).startsWith("421");
      assertThat(cut).isBetween(Duration.ofMillis(1900), Duration.ofMillis(3000));
      assertThat(client.reply()).isNull();
      row("DATA at 1 byte/s, relay-timeout-s 2", reply, "cut after " + cut.toMillis() + " ms");
    }
    assertThat(backend.received()).doesNotContain("\r\n.\r\n");
  }

  /**
   * A client that floods commands and never reads a reply: the gateway's write of a reply blocks,
   * which no read deadline bounds. Connected and greeted before this returns.
   */
  private Socket nonReader(String from, RunningGateway gateway) throws IOException {
    Socket socket = new Socket();
    resources.add(0, socket); // closed before the gateway, which may wait for its blocked write
    socket.setReceiveBufferSize(4096);
    socket.bind(new InetSocketAddress(InetAddress.getByName(from), 0));
    socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), gateway.port()));
    socket.setSoTimeout(5000);
    int b;
    while ((b = socket.getInputStream().read()) != '\n') {
      assertThat(b).as("greeting").isNotNegative(); // its greeting: it was admitted
    }
    OutputStream out = socket.getOutputStream();
    byte[] flood = "HELP\r\n".repeat(1000).getBytes(StandardCharsets.US_ASCII);
    Thread writer =
        new Thread(
            () -> {
              try {
                while (true) {
                  out.write(flood);
                }
              } catch (IOException hungUp) {
                // the gateway hung up: what should happen
              }
            },
            "non-reader " + from);
    writer.setDaemon(true);
    writer.start();
    return socket;
  }

  /** Whether a client from {@code from} is greeted with 220 now. */
  private static boolean greeted(String from, RunningGateway gateway) throws IOException {
    try (EdgeClient client = EdgeClient.connect(from, gateway.port())) {
      return String.valueOf(client.reply()).startsWith("220");
    }
  }

  @Test
  void clientThatNeverReadsIsHungUpOnAtTheCommandTimeout() throws Exception {
    ScriptedSmtpServer backend = backend(EsmtpBackend.wellBehaved());
    RunningGateway gateway =
        gateway(backend, s -> s.commandTimeout(Duration.ofSeconds(2)).maxConnectionsPerClient(1));
    nonReader("127.0.0.3", gateway);
    long start = System.nanoTime();
    assertThat(greeted("127.0.0.3", gateway)).as("its one slot is taken").isFalse();
    await()
        .pollInterval(Duration.ofMillis(200))
        .atMost(Duration.ofSeconds(6))
        .until(() -> greeted("127.0.0.3", gateway));
    Duration freed = Duration.ofNanos(System.nanoTime() - start);
    System.out.printf(
        "| a client floods commands and never reads a reply (command-timeout-s 2, one connection"
            + " per client) | hung up on | its address greeted again after %d ms |%n",
        freed.toMillis());
  }

  @Test
  void clientsThatNeverReadDoNotKeepOthersOutOfTheGateway() throws Exception {
    ScriptedSmtpServer backend = backend(EsmtpBackend.wellBehaved());
    RunningGateway gateway =
        gateway(
            backend,
            s ->
                s.commandTimeout(Duration.ofSeconds(2))
                    .maxConnections(4)
                    .maxConnectionsPerClient(2));
    for (String from : List.of("127.0.0.3", "127.0.0.3", "127.0.0.4", "127.0.0.4")) {
      nonReader(from, gateway);
    }
    assertThat(greeted("127.0.0.2", gateway)).as("every slot is taken").isFalse();
    long start = System.nanoTime();
    await()
        .pollInterval(Duration.ofMillis(200))
        .atMost(Duration.ofSeconds(6))
        .until(() -> greeted("127.0.0.2", gateway));
    System.out.printf(
        "| 4 clients from 2 addresses that never read take every slot (max-connections 4,"
            + " command-timeout-s 2) | hung up on | another address greeted after %d ms |%n",
        Duration.ofNanos(System.nanoTime() - start).toMillis());
  }

  /**
   * RFC 5321 §4.1.1.4: after the reply to the end of data, accepted or refused, the transaction is
   * over. The next MAIL starts a new one, and the next message goes to its own recipients only.
   */
  @Test
  void transactionIsClearedAfterTheBackendRefusedTheMessage() throws Exception {
    ScriptedSmtpServer backend =
        backend(EsmtpBackend.wellBehaved().withEndOfData("554 5.7.1 rejected by content filter"));
    RunningGateway gateway = gateway(backend, TestGateway.noDisconnect());
    String mail;
    try (EdgeClient client = inTransaction(gateway, "alice@example.com")) {
      assertThat(client.send("DATA")).startsWith("354");
      assertThat(client.send(BODY + ".")).startsWith("554");
      mail = client.send("MAIL FROM:<second@example.net>");
      assertThat(client.send("RCPT TO:<bob@example.com>")).startsWith("250");
      assertThat(client.send("DATA")).startsWith("354");
      client.send(BODY + ".");
      assertThat(client.send("QUIT")).startsWith("221");
    }
    assertThat(mail).startsWith("250");
    // each recipient: one verification probe and one relayed message
    String received = backend.received();
    assertThat(received.split("RCPT TO:<alice@example.com>", -1)).as(received).hasSize(3);
    assertThat(received.split("RCPT TO:<bob@example.com>", -1)).as(received).hasSize(3);
    assertThat(received).contains("MAIL FROM:<second@example.net>");
    row(
        "`MAIL` after the backend refused the message",
        mail,
        "the next message, to its own recipients only");
  }

  /**
   * A STARTTLS refused (here: no TLS configured) changes nothing: the client's EHLO still holds,
   * for its MAIL parameters and for the trace.
   */
  @Test
  void refusedStartTlsDoesNotForgetTheEhlo() throws Exception {
    ScriptedSmtpServer backend = backend(EsmtpBackend.wellBehaved());
    RunningGateway gateway = gateway(backend);
    String startTls;
    try (EdgeClient client = EdgeClient.connect("127.0.0.2", gateway.port())) {
      assertThat(client.reply()).startsWith("220");
      assertThat(client.send("EHLO client.test")).startsWith("250");
      startTls = client.send("STARTTLS");
      assertThat(startTls).startsWith("454");
      assertThat(client.send("MAIL FROM:<you@example.net> BODY=8BITMIME")).startsWith("250");
      assertThat(client.send("RCPT TO:<alice@example.com>")).startsWith("250");
      assertThat(client.send("DATA")).startsWith("354");
      assertThat(client.send(BODY + ".")).startsWith("250");
    }
    assertThat(backend.received())
        .contains("MAIL FROM:<you@example.net> BODY=8BITMIME\r\n")
        .contains(" with ESMTP id ");
    row("`STARTTLS` refused after EHLO", startTls, "the EHLO holds: `with ESMTP`");
  }

  private static void send(EdgeClient client, String text) {
    try {
      client.raw(text);
    } catch (IOException e) {
      throw new UncheckedIOException(e); // the gateway hung up: the trickle stops
    }
  }

  @Test
  void postmasterWithoutDomainIsAcceptedAndGoesToThePrimaryDomain() throws Exception {
    ScriptedSmtpServer backend = backend(EsmtpBackend.wellBehaved());
    RunningGateway gateway = gateway(backend);
    String rcpt;
    try (EdgeClient client = EdgeClient.connect(gateway.port())) {
      client.reply();
      client.send("EHLO client.test");
      client.send("MAIL FROM:<you@example.net>");
      rcpt = client.send("RCPT TO:<Postmaster>");
      client.send("DATA");
      assertThat(client.send(BODY + ".")).startsWith("250");
    }
    assertThat(rcpt).startsWith("250");
    assertThat(backend.received()).contains("RCPT TO:<postmaster@example.com>");
    row("`RCPT TO:<Postmaster>`", rcpt, "`RCPT TO:<postmaster@example.com>`");
  }

  @Test
  void postmasterGoesWhereTheAdminSays() throws Exception {
    ScriptedSmtpServer backend = backend(EsmtpBackend.wellBehaved());
    RunningGateway gateway = gateway(backend, s -> s.postmaster("hostmaster@example.com"));
    try (EdgeClient client = inTransaction(gateway, "postmaster")) {
      client.send("DATA");
      assertThat(client.send(BODY + ".")).startsWith("250");
    }
    assertThat(backend.received()).contains("RCPT TO:<hostmaster@example.com>");
  }

  static Stream<Arguments> undeclaredEnvelopes() {
    return Stream.of(
        Arguments.of(
            "non-ASCII sender without SMTPUTF8",
            "EHLO client.test",
            "MAIL FROM:<jörg@example.net>",
            "553 5.6.7"),
        Arguments.of(
            "SMTPUTF8 after plain HELO",
            "HELO client.test",
            "MAIL FROM:<you@example.net> SMTPUTF8",
            "555 5.5.4"),
        Arguments.of(
            "BODY=8BITMIME after plain HELO",
            "HELO client.test",
            "MAIL FROM:<you@example.net> BODY=8BITMIME",
            "555 5.5.4"),
        Arguments.of(
            "unknown MAIL parameter",
            "EHLO client.test",
            "MAIL FROM:<you@example.net> RET=HDRS",
            "555 5.5.4"));
  }

  private static final String PARAMETER_SYNTAX =
      "501 5.5.4 Syntax error in parameters: one space before each, no other white space";

  static Stream<Arguments> malformedParameters() {
    String mail = "MAIL FROM:<you@example.net>";
    return Stream.of(
        Arguments.of("a trailing space after MAIL FROM", mail + " ", PARAMETER_SYNTAX),
        Arguments.of("a trailing tab after MAIL FROM", mail + "\t", PARAMETER_SYNTAX),
        Arguments.of(
            "a trailing space after a MAIL parameter", mail + " SIZE=100 ", PARAMETER_SYNTAX),
        Arguments.of("a tab before the first MAIL parameter", mail + "\tSIZE=100", "501 5.5.4"),
        Arguments.of(
            "two spaces before the first MAIL parameter", mail + "  SIZE=100", "501 5.5.4"),
        Arguments.of("a tab between MAIL parameters", mail + " SIZE=100\tSMTPUTF8", "501 5.5.4"),
        Arguments.of("SIZE=1 SIZE=2", mail + " SIZE=1 SIZE=2", "555 5.5.4"),
        Arguments.of("BODY=7BIT BODY=8BITMIME", mail + " BODY=7BIT BODY=8BITMIME", "555 5.5.4"),
        Arguments.of("SMTPUTF8 SMTPUTF8", mail + " SMTPUTF8 smtputf8", "555 5.5.4"));
  }

  /**
   * RFC 5321's {@code SP Mail-parameters}, each keyword once: a tab, a second space or a keyword
   * given twice is refused, never read past or decided for the client.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("malformedParameters")
  void malformedOrRepeatedMailParametersAreRefused(String behaviour, String mail, String expected)
      throws Exception {
    ScriptedSmtpServer backend = backend(EsmtpBackend.wellBehaved());
    RunningGateway gateway = gateway(backend);
    String reply;
    try (EdgeClient client = EdgeClient.connect(gateway.port())) {
      client.reply();
      client.send("EHLO client.test");
      reply = client.send(mail);
      assertThat(client.send("MAIL FROM:<you@example.net> SIZE=100")).isEqualTo("250 Ok");
    }
    assertThat(reply).startsWith(expected);
    row(behaviour, reply, "nothing");
  }

  static Stream<Arguments> malformedRcptLines() {
    String rcpt = "RCPT TO:<alice@example.com>";
    return Stream.of(
        Arguments.of("a tab before a RCPT parameter", rcpt + "\tNOTIFY=NEVER"),
        Arguments.of("a trailing space after RCPT TO", rcpt + " "),
        Arguments.of("a trailing tab after RCPT TO", rcpt + "\t"));
  }

  /** White space other than one space before each parameter is refused, never cut off. */
  @ParameterizedTest(name = "{0}")
  @MethodSource("malformedRcptLines")
  void badlySpacedRcptLineIsASyntaxError(String behaviour, String rcpt) throws Exception {
    ScriptedSmtpServer backend = backend(EsmtpBackend.wellBehaved());
    RunningGateway gateway = gateway(backend);
    String reply;
    try (EdgeClient client = EdgeClient.connect(gateway.port())) {
      client.reply();
      client.send("EHLO client.test");
      client.send("MAIL FROM:<you@example.net>");
      reply = client.send(rcpt);
    }
    assertThat(reply).isEqualTo(PARAMETER_SYNTAX);
    assertThat(backend.received()).doesNotContain("alice");
    row(behaviour, reply, "nothing");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("undeclaredEnvelopes")
  void undeclaredSenderIsRefused(String behaviour, String hello, String mail, String expected)
      throws Exception {
    ScriptedSmtpServer backend = backend(EsmtpBackend.wellBehaved());
    RunningGateway gateway = gateway(backend);
    String reply;
    try (EdgeClient client = EdgeClient.connect(gateway.port())) {
      client.reply();
      client.send(hello);
      reply = client.send(mail);
    }
    assertThat(reply).startsWith(expected);
    row(behaviour, reply, "nothing");
  }

  @Test
  void nonAsciiRecipientWithoutSmtputf8IsRefused() throws Exception {
    ScriptedSmtpServer backend = backend(EsmtpBackend.wellBehaved());
    RunningGateway gateway = gateway(backend);
    String reply;
    try (EdgeClient client = EdgeClient.connect(gateway.port())) {
      client.reply();
      client.send("EHLO client.test");
      client.send("MAIL FROM:<you@example.net>");
      reply = client.send("RCPT TO:<jörg@example.com>");
    }
    assertThat(reply).startsWith("553 5.6.7");
    assertThat(backend.received()).doesNotContain("RCPT TO:<j");
    row("non-ASCII recipient without SMTPUTF8", reply, "nothing");
  }

  @Test
  void eightBitBodyAfterHeloIsRelayedWithoutParametersTheClientDidNotGive() throws Exception {
    ScriptedSmtpServer backend = backend(EsmtpBackend.wellBehaved());
    RunningGateway gateway = gateway(backend);
    String reply;
    try (EdgeClient client = EdgeClient.connect(gateway.port())) {
      client.reply();
      client.send("HELO client.test");
      client.send("MAIL FROM:<you@example.net>");
      client.send("RCPT TO:<alice@example.com>");
      client.send("DATA");
      reply = client.send("Subject: Grüße\r\n\r\nGrüße\r\n.");
    }
    assertThat(reply).startsWith("250");
    assertThat(backend.received())
        .contains("MAIL FROM:<you@example.net>\r\n") // exactly: no parameters added
        .doesNotContain("BODY=8BITMIME");
    row("8-bit body after plain HELO", reply, "relayed as declared: no `BODY=8BITMIME`");
  }

  @Test
  void declaredEightBitBodyIsRelayedAsDeclared() throws Exception {
    ScriptedSmtpServer backend = backend(EsmtpBackend.wellBehaved());
    RunningGateway gateway = gateway(backend);
    try (EdgeClient client = EdgeClient.connect(gateway.port())) {
      client.reply();
      client.send("EHLO client.test");
      client.send("MAIL FROM:<you@example.net> BODY=8BITMIME");
      client.send("RCPT TO:<alice@example.com>");
      client.send("DATA");
      assertThat(client.send("Subject: Grüße\r\n\r\nGrüße\r\n.")).startsWith("250");
    }
    assertThat(backend.received()).contains("MAIL FROM:<you@example.net> BODY=8BITMIME\r\n");
  }
}
