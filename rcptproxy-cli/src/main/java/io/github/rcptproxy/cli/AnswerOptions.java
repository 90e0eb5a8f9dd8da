package io.github.rcptproxy.cli;

import io.github.rcptproxy.policy.FailureMode;
import io.github.rcptproxy.policy.ReplyPolicy;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * What clients are told about their recipients (gateway, policy): the rejection, what to do when
 * the backend cannot answer, and who skips verification. Declared once here for both.
 */
final class AnswerOptions {
  @Option(
      names = "--reject-code",
      paramLabel = "N",
      defaultValue = "550",
      description = "reply code of a rejection, 400-599")
  int rejectCode;

  @Option(
      names = "--reject-message",
      paramLabel = "TEXT",
      defaultValue = "Unable to relay to @",
      description = "rejection text; a trailing @ becomes the address")
  String rejectMessage;

  @Option(
      names = "--expose-backend-reply",
      converter = Converters.YesNo.class,
      description = "show clients the backend's own rejection text")
  boolean exposeBackendReply;

  @Option(
      names = "--on-unverified",
      paramLabel = "ACTION",
      defaultValue = "accept",
      converter = Converters.Failure.class,
      completionCandidates = Converters.Failure.class,
      description =
          "${COMPLETION-CANDIDATES}: the backend is slow, down or busy (tempfail: 451 4.4.3, to"
              + " Postfix DEFER_IF_PERMIT)")
  FailureMode onUnverified;

  @Option(
      names = "--on-backend-tempfail",
      paramLabel = "ACTION",
      defaultValue = "accept",
      converter = Converters.Failure.class,
      completionCandidates = Converters.Failure.class,
      description = "${COMPLETION-CANDIDATES}: the backend answered 4xx (tempfail passes it on)")
  FailureMode onBackendTempfail;

  // No defaultValue: the command gives its own as the field's initial value.
  @Option(
      names = "--bypass",
      paramLabel = "CIDR",
      split = ",",
      description = "client addresses that skip verification; repeat, or separate with commas")
  List<String> bypass;

  /** Nobody bypasses verification unless told. */
  AnswerOptions() {
    this(List.of());
  }

  AnswerOptions(List<String> defaultBypass) {
    this.bypass = new ArrayList<>(defaultBypass);
  }

  /** Sets these options on a policy's builder (the policy server's or the gateway's). */
  void applyTo(ReplyPolicy.Settings<?> policy) {
    policy
        .rejectCode(rejectCode)
        .rejectMessage(rejectMessage)
        .exposeBackendReply(exposeBackendReply)
        .onUnverified(onUnverified)
        .onBackendTemporaryFailure(onBackendTempfail)
        .bypass(Rcptproxy.items(bypass));
  }
}
