package io.github.rcptproxy.benchmarks;

import io.github.rcptproxy.RecipientVerifier;
import io.github.rcptproxy.VerifierConfig;
import io.github.rcptproxy.postfix.PolicyAnswers;
import io.github.rcptproxy.postfix.PolicyServer;
import io.github.rcptproxy.testing.PostfixBackend;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.UnixDomainSocketAddress;
import java.time.Duration;

/**
 * The policy server in a process of its own, as it is deployed ({@code BACKEND_PORT LISTEN}, LISTEN
 * {@code tcp} or a socket path): prints its address, serves until its standard input ends. Its own
 * process, not the benchmark's: there it shared the JVM and the scheduler's share (sched autogroup)
 * with the 20 benchmark clients.
 */
public final class PolicyServerProcess {
  private PolicyServerProcess() {}

  public static void main(String[] args) throws IOException {
    System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
    try (RecipientVerifier verifier =
            RecipientVerifier.create(
                VerifierConfig.builder()
                    .backend("127.0.0.1", Integer.parseInt(args[0]))
                    .heloName("policy.example.test")
                    .cache(Duration.ofHours(1), Duration.ofMinutes(5), 100_000)
                    .build());
        PolicyServer server = start(verifier, args[1])) {
      System.out.println("listening " + server.address());
      System.out.flush();
      while (System.in.read() >= 0) {
        // serve until the benchmark closes our input
      }
    }
  }

  private static PolicyServer start(RecipientVerifier verifier, String listen) throws IOException {
    PolicyServer.Builder server =
        PolicyServer.builder().route(PostfixBackend.DOMAIN, verifier, PolicyAnswers.defaults());
    if (listen.equals("tcp")) {
      server.listen(new InetSocketAddress("127.0.0.1", 0));
    } else {
      server.listen(UnixDomainSocketAddress.of(listen)).socketGroup("postfix"); // smtpd's group
    }
    return server.start();
  }
}
