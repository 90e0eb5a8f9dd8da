package io.github.rcptproxy.examples;

import io.github.rcptproxy.RecipientVerifier;
import io.github.rcptproxy.postfix.PolicyAnswers;
import io.github.rcptproxy.postfix.PolicyServer;
import java.io.IOException;
import java.net.InetSocketAddress;

/**
 * Use 3: a Postfix policy server. Postfix asks it for every recipient with {@code
 * check_policy_service inet:127.0.0.1:PORT} in {@code smtpd_recipient_restrictions}; it answers
 * {@code DUNNO} for a known recipient and {@code 550 5.1.1} for an unknown one.
 */
public final class PolicyServerFromJava {
  private PolicyServerFromJava() {}

  /** Listens on {@code port} of the loopback address (0: any free port) for every domain. */
  public static PolicyServer start(int port, RecipientVerifier verifier) throws IOException {
    return PolicyServer.builder()
        .listen(new InetSocketAddress("127.0.0.1", port))
        .route("*", verifier, PolicyAnswers.defaults())
        .start();
  }
}
