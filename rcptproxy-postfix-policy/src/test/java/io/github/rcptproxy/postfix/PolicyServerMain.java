package io.github.rcptproxy.postfix;

import java.io.IOException;
import java.net.InetSocketAddress;

/**
 * A policy server with a scripted verifier in a process of its own, for tests that must limit its
 * resources (its open-file limit); prints its port, stops when its standard input ends.
 */
public final class PolicyServerMain {
  private PolicyServerMain() {}

  public static void main(String[] args) throws IOException {
    try (PolicyServer server =
        PolicyServer.builder()
            .listen(new InetSocketAddress("127.0.0.1", 0))
            .route(
                "example.test",
                new ScriptedVerifier(PolicyServerTest::script),
                PolicyAnswers.defaults())
            .maxConnections(100_000)
            .start()) {
      System.out.println("port " + ((InetSocketAddress) server.address()).getPort());
      System.out.flush();
      while (System.in.read() >= 0) {
        // serve until the parent closes our input
      }
    }
  }
}
