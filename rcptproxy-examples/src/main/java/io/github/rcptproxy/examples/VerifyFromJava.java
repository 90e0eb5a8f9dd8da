package io.github.rcptproxy.examples;

import io.github.rcptproxy.RecipientVerifier;
import io.github.rcptproxy.Verdict;
import io.github.rcptproxy.VerifierConfig;

/**
 * Use 1: ask the backend about a recipient from your own Java code. Run with the backend's host and
 * port and the addresses to check: {@code VerifyFromJava 10.0.0.5 25 alice@example.com}.
 */
public final class VerifyFromJava {
  private VerifyFromJava() {}

  public static void main(String[] args) {
    VerifierConfig config =
        VerifierConfig.builder()
            .backend(args[0], Integer.parseInt(args[1])) // the internal mail server
            .heloName("gateway.example.com") // the name this host gives in EHLO
            .build();
    // One verifier for the whole application: it is thread-safe and keeps its sessions open.
    try (RecipientVerifier verifier = RecipientVerifier.create(config)) {
      for (int i = 2; i < args.length; i++) {
        System.out.println(args[i] + ": " + decide(verifier.verify(args[i])));
      }
    }
  }

  /** What an SMTP server would answer at RCPT for a verdict. */
  static String decide(Verdict verdict) {
    if (verdict instanceof Verdict.Rejected) {
      return "550 5.1.1 unknown user"; // only a refusal about the mailbox itself becomes Rejected
    }
    if (verdict instanceof Verdict.Accepted) {
      return "250 OK";
    }
    return "250 OK (unverified: " + verdict + ")"; // backend down or unclear: fail open
  }
}
