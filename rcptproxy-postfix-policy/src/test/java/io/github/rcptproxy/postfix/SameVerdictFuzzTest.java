package io.github.rcptproxy.postfix;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.github.rcptproxy.BackendReply;
import io.github.rcptproxy.Verdict;
import io.github.rcptproxy.subethasmtp.DomainRoutes;
import io.github.rcptproxy.subethasmtp.RecipientPolicy;
import io.github.rcptproxy.subethasmtp.RecipientVerifyingHandlerFactory;
import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Proxy;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.subethamail.smtp.MessageContext;
import org.subethamail.smtp.MessageHandler;
import org.subethamail.smtp.RejectException;

/**
 * The policy server and the gateway (its SubEthaSMTP wrapper) reach the same verdict for the same
 * address, whatever form the client wrote it in: each asks the verifier about the same mailbox, or
 * neither does, and where the policy server lets Postfix deliver ({@code DUNNO}) the gateway
 * accepts. The policy server is given the address as Postfix hands it over (measured with Postfix
 * 3.7, {@code PostfixFrontTest}: source route dropped, local part unquoted, trailing dot and case
 * as written). By default each stored input runs once; to fuzz for real: {@code JAZZER_FUZZ=1 mvn
 * -pl rcptproxy-postfix-policy test -Dtest=SameVerdictFuzzTest}.
 */
class SameVerdictFuzzTest {
  private static final Set<String> MAILBOXES =
      Set.of("user1@example.test", "first.last@example.test");
  private static final Duration MS = Duration.ofMillis(1);
  private static final List<String> LOCAL_PARTS =
      List.of(
          "user1",
          "User1",
          "nobody",
          "first.last",
          "\"user1\"",
          "\"first.last\"",
          "\"no body\"",
          "\"us\\\"er\"",
          ".user1",
          "user1.",
          "a..b");
  private static final List<String> DOMAINS =
      List.of(
          "example.test",
          "EXAMPLE.Test",
          "example.test.",
          "Example.TEST.",
          "example.test..",
          "other.test",
          "example.test.other",
          "sub.example.test",
          ".example.test",
          "[192.0.2.1]");

  /** Source routes Postfix takes (and drops); a malformed one it refuses itself. */
  private static final List<String> ROUTES =
      List.of("", "@relay.example:", "@a.example,@b.example:");

  private static ScriptedVerifier verifier;
  private static PolicyServer server;
  private static PolicyClient client;

  @BeforeAll
  static void start() throws IOException {
    verifier =
        new ScriptedVerifier(
            address ->
                MAILBOXES.contains(address)
                    ? new Verdict.Accepted(new BackendReply(250, "2.1.5", "Ok"), MS)
                    : new Verdict.Rejected(new BackendReply(550, "5.1.1", "unknown"), MS));
    server =
        PolicyServer.builder()
            .listen(new InetSocketAddress("127.0.0.1", 0))
            .route("example.test", verifier, PolicyAnswers.defaults())
            .start();
    client = new PolicyClient(server.address());
  }

  @AfterAll
  static void stop() throws IOException {
    client.close();
    server.close();
  }

  @FuzzTest(maxDuration = "1m")
  void policyServerAndGatewayDecideAlike(FuzzedDataProvider data) throws IOException {
    String route = data.pickValue(ROUTES);
    String local = data.consumeBoolean() ? data.pickValue(LOCAL_PARTS) : atext(data);
    String domain = data.pickValue(DOMAINS);
    String written = route + local + "@" + domain;

    String postfixForm = postfixForm(local, domain);
    verifier.asked.clear();
    boolean gatewayAccepts = gatewayAccepts(written);
    boolean gatewayAsked = !verifier.asked.isEmpty();
    if (postfixForm == null) {
      return; // Postfix refuses it itself: no policy request
    }
    verifier.asked.clear();
    String action = client.ask(PolicyClient.rcpt(postfixForm, "192.0.2.9"));
    boolean policyAsked = !verifier.asked.isEmpty();

    assertThat(policyAsked)
        .as("verified by the policy server as by the gateway: %s", written)
        .isEqualTo(gatewayAsked);
    if (policyAsked && action.equals("action=DUNNO")) {
      assertThat(gatewayAccepts)
          .as("the gateway on %s, which Postfix may deliver", written)
          .isTrue();
    }
    if (gatewayAsked && !gatewayAccepts) {
      assertThat(action)
          .as("the policy server on %s, which the gateway refuses", written)
          .isNotEqualTo("action=DUNNO");
    }
  }

  /** A fuzzed local part of letters, digits, dots and quotes. */
  private static String atext(FuzzedDataProvider data) {
    String chars = data.consumeString(12);
    StringBuilder local = new StringBuilder();
    for (char c : chars.toCharArray()) {
      local.append("abcU1.\"-+ ".charAt(Math.floorMod(c, 10)));
    }
    return local.length() == 0 ? "x" : local.toString();
  }

  /**
   * What Postfix hands its policy service (no source route, the local part unquoted), or null for a
   * domain Postfix refuses itself (an empty label).
   */
  private static String postfixForm(String local, String domain) {
    if (domain.startsWith(".") || domain.contains("..")) {
      return null;
    }
    String internal = local;
    if (local.length() >= 2 && local.startsWith("\"") && local.endsWith("\"")) {
      internal = local.substring(1, local.length() - 1).replace("\\\"", "\"").replace("\\\\", "\\");
    }
    return internal + "@" + domain;
  }

  /** Whether the SubEthaSMTP wrapper, as the gateway uses it, accepts {@code recipient}. */
  private static boolean gatewayAccepts(String recipient) {
    MessageHandler handler =
        RecipientVerifyingHandlerFactory.wrap(
                context -> new Accepting(),
                DomainRoutes.builder()
                    .route(
                        "example.test",
                        verifier,
                        RecipientPolicy.builder().bypass(List.of()).bypassBackend(false).build())
                    .build())
            .create(context());
    try {
      handler.from("someone@example.net");
      handler.recipient(recipient);
      return true;
    } catch (RejectException e) {
      return false;
    }
  }

  private static MessageContext context() {
    InetSocketAddress client = new InetSocketAddress("192.0.2.9", 25000);
    return (MessageContext)
        Proxy.newProxyInstance(
            MessageContext.class.getClassLoader(),
            new Class<?>[] {MessageContext.class},
            (proxy, method, args) ->
                switch (method.getName()) {
                  case "getRemoteAddress" -> client;
                  case "hashCode" -> System.identityHashCode(proxy);
                  case "equals" -> proxy == args[0];
                  default -> null;
                });
  }

  private static final class Accepting implements MessageHandler {
    @Override
    public void from(String from) {}

    @Override
    public void recipient(String recipient) {}

    @Override
    public String data(InputStream data) {
      return null;
    }

    @Override
    public void done() {}
  }
}
