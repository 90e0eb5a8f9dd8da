package io.github.rcptproxy.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.RecipientVerifier;
import io.github.rcptproxy.Verdict;
import io.github.rcptproxy.VerifierConfig;
import io.github.rcptproxy.testing.EximBackend;
import io.github.rcptproxy.testing.PostfixBackend;
import io.github.rcptproxy.testing.RealServers;
import io.github.rcptproxy.testing.StderrCapture;
import io.github.rcptproxy.testing.VerdictTally;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.IntFunction;
import org.junit.jupiter.api.Test;

/**
 * {@code rcptproxy probe} against hardened real backends: what it says is true, its exit code says
 * the same, every option it recommends is taken by the gateway and the policy server, and its
 * advice, applied as printed, makes the verifier right (300 recipients at half unknown: no real
 * mailbox refused, at least 95 % of the unknown ones refused).
 */
@RealServers
class ProbeAdviceTest {
  private static final int RECIPIENTS = 300;

  private final CommandRun command = new CommandRun();

  private int probe(int port, String... extra) {
    List<String> args =
        new ArrayList<>(
            List.of("probe", "--backend", "127.0.0.1:" + port, "--domain", "example.test"));
    args.addAll(List.of(extra));
    int code = command.run(args.toArray(String[]::new));
    System.out.print(command.out());
    System.err.print(command.err());
    return code;
  }

  /** The recommended options, as printed, without their comments. */
  private List<String> advice() {
    String out = command.out();
    List<String> options = new ArrayList<>();
    for (String line : out.substring(out.indexOf("recommended:")).lines().toList()) {
      String option = line.strip().replaceFirst("\\s+#.*$", "");
      if (option.startsWith("--")) {
        String[] words = option.split("\\s+", 2);
        options.add(words[0]);
        if (words.length > 1) {
          options.add(words[1].equals("''") ? "" : words[1]);
        }
      }
    }
    return options;
  }

  /**
   * The advice applied to the gateway's and the policy server's command lines (both must take it),
   * and the gateway's verifier configuration.
   */
  private VerifierConfig applied(int port, List<String> advice) {
    List<String> policy = new ArrayList<>(List.of("policy", "--backend", "127.0.0.1:" + port));
    policy.addAll(advice);
    PolicyCommand parsed = CommandRun.parse(PolicyCommand.class, policy.toArray(String[]::new));
    VerifierConfig.Builder policyConfig = VerifierConfig.builder();
    parsed.verifier.applyTo(policyConfig);
    parsed.sessions.applyTo(policyConfig);
    policyConfig.build();

    List<String> gateway =
        new ArrayList<>(
            List.of("gateway", "--domain", "example.test", "--backend", "127.0.0.1:" + port));
    gateway.addAll(advice);
    return CommandRun.parse(GatewayCommand.class, gateway.toArray(String[]::new))
        .settings()
        .verifier();
  }

  /** 300 verifications at half unknown, eight at a time, each a real known one first. */
  private static void verifiesRight(
      VerifierConfig config, IntFunction<String> known, IntFunction<String> unknown)
      throws Exception {
    VerdictTally tally = tally(config, known, unknown);
    assertThat(tally.wrongRejections()).as(tally.toString()).isZero();
    assertThat(tally.unknownRejected())
        .as(tally.toString())
        .isGreaterThanOrEqualTo(RECIPIENTS / 2 * 95 / 100);
  }

  private static VerdictTally tally(
      VerifierConfig config, IntFunction<String> known, IntFunction<String> unknown)
      throws Exception {
    VerdictTally tally = new VerdictTally();
    ExecutorService threads = Executors.newFixedThreadPool(8);
    try (RecipientVerifier verifier = RecipientVerifier.create(config)) {
      // a real one first, alone, then the others eight at a time
      tally.add(true, outcome(verifier.verify(known.apply(999))));
      List<Future<Verdict>> verdicts = new ArrayList<>();
      for (int i = 0; i < RECIPIENTS; i++) {
        String address = VerdictTally.isKnown(i) ? known.apply(i / 2) : unknown.apply(i);
        verdicts.add(threads.submit(() -> verifier.verify(address)));
      }
      for (int i = 0; i < RECIPIENTS; i++) {
        tally.add(VerdictTally.isKnown(i), outcome(verdicts.get(i).get()));
      }
    } finally {
      threads.shutdownNow();
    }
    System.out.println("advice applied: " + tally);
    return tally;
  }

  private static String outcome(Verdict verdict) {
    return verdict instanceof Verdict.Unverified u
        ? u.reason().name()
        : verdict instanceof Verdict.Accepted ? "ACCEPTED" : "REJECTED";
  }

  @Test
  void postfixWithoutPostmasterIsHonest() throws Exception {
    try (PostfixBackend postfix =
        PostfixBackend.start(
            List.of(
                "virtual_mailbox_maps = inline:{ user1@example.test=OK, user2@example.test=OK,"
                    + " user999@example.test=OK }"))) {
      assertThat(probe(postfix.port())).isZero();
      assertThat(command.out())
          .contains("RCPT postmaster          550 5.1.1")
          .contains("RCPT answers honestly    yes");
      VerifierConfig config = applied(postfix.port(), advice());
      verifiesRight(config, i -> PostfixBackend.known(1 + i % 2), PostfixBackend::unknown);
    }
  }

  @Test
  void eximTarpitGetsALongerDeadlineNeverRcptAlone() throws Exception {
    try (EximBackend exim =
        EximBackend.start(EximBackend.Options.builder().tarpit(Duration.ofSeconds(3)).build())) {
      assertThat(probe(exim.port(), "--max-rejections", "3")).isZero();
      assertThat(command.out())
          .containsPattern("RCPT random local part   550 Unknown user \\(3\\d\\d\\d ms\\)")
          .containsPattern("--timeout-ms [78]000 # VRFY does not answer")
          .contains("rejections per session   none: the first reply took")
          .doesNotContain("--probe-method rcpt");
      verifiesRight(applied(exim.port(), advice()), EximBackend::known, EximBackend::unknown);
    }
  }

  @Test
  void eximRefusingTheNullSenderAtMailGetsPostmasterAsTheSender() throws Exception {
    try (EximBackend exim =
        EximBackend.start(EximBackend.Options.builder().nullSenderRefusedAtMail().build())) {
      assertThat(probe(exim.port())).isZero();
      assertThat(command.out())
          .contains(
              "probe sender             <postmaster@example.test> (the configured one was"
                  + " refused: 550 Bounces are not accepted here)")
          .contains("--probe-sender postmaster@example.test # the backend refuses the probe");
      verifiesRight(applied(exim.port(), advice()), EximBackend::known, EximBackend::unknown);
    }
  }

  @Test
  void postfixRefusingTheNullSenderInRcptModeGetsPostmasterAsTheSender() throws Exception {
    try (PostfixBackend postfix =
        PostfixBackend.start(
            List.of("smtpd_recipient_restrictions = check_sender_access inline:{<>=REJECT}"))) {
      assertThat(probe(postfix.port())).isZero();
      assertThat(command.out())
          .contains("the configured one was refused: 554 5.7.1 <>: Sender address rejected")
          .contains("--probe-sender postmaster@example.test");
      verifiesRight(
          applied(postfix.port(), advice()), PostfixBackend::known, PostfixBackend::unknown);
    }
  }

  @Test
  void aRefusedHeloNameIsNamedWithItsFix() throws Exception {
    try (PostfixBackend postfix =
        PostfixBackend.start(
            List.of(
                "smtpd_helo_required = yes",
                "smtpd_helo_restrictions = reject_non_fqdn_helo_hostname"))) {
      assertThat(probe(postfix.port(), "--helo", "world")).isEqualTo(1);
      assertThat(command.out())
          .contains("(504 5.5.2 <world>: Helo command rejected")
          .contains("give --helo a fully qualified name of this host");
      command.reset();
      assertThat(probe(postfix.port())).isZero(); // the default name passes
      verifiesRight(
          applied(postfix.port(), advice()), PostfixBackend::known, PostfixBackend::unknown);
    }
  }

  @Test
  void aGreetingDelayIsTimedAndExplained() throws Exception {
    try (PostfixBackend postfix = PostfixBackend.startBehindPostscreen(List.of())) {
      assertThat(probe(postfix.port())).isZero();
      assertThat(command.out())
          .containsPattern("greeting took            [6-9]\\d\\d\\d ms")
          .contains("# the backend greeted after")
          .contains("postscreen_access_list");
      // postscreen remembers this host now: the advice applied, every verdict is right at once
      verifiesRightAfterTheWarmUp(postfix);
    }
  }

  private void verifiesRightAfterTheWarmUp(PostfixBackend postfix) throws Exception {
    verifiesRight(
        applied(postfix.port(), advice()), PostfixBackend::known, PostfixBackend::unknown);
  }

  /**
   * The backend cannot say past its limit: probe names the setting and recommends no option; the
   * gateway as it is then is never wrong and names the setting once; the backend changed as probe
   * says, the gateway is right.
   */
  @Test
  void aConnectionRateLimitIsNamed() throws Exception {
    String limit = "smtpd_client_connection_rate_limit = 3";
    try (PostfixBackend postfix = PostfixBackend.start(List.of(limit))) {
      assertThat(probe(postfix.port())).isEqualTo(1); // its fourth session is refused
      assertThat(command.err())
          .contains("421 4.7.0")
          .contains("smtpd_client_connection_rate_limit")
          .contains("smtpd_client_event_limit_exceptions");
      assertThat(command.out()).doesNotContain("recommended:");
      try (StderrCapture log = new StderrCapture()) {
        VerdictTally tally =
            tally(
                applied(postfix.port(), List.of()), PostfixBackend::known, PostfixBackend::unknown);
        assertThat(tally.wrongRejections()).as(tally.toString()).isZero();
        assertThat(tally.unknownAccepted()).as(tally.toString()).isZero();
        assertThat(log.lines("smtpd_client_connection_rate_limit")).as(log.text()).isEqualTo(1);
      }
    }
    try (PostfixBackend exempt =
        PostfixBackend.start(List.of(limit, "smtpd_client_event_limit_exceptions = 127.0.0.1"))) {
      verifiesRight(
          applied(exempt.port(), List.of()), PostfixBackend::known, PostfixBackend::unknown);
    }
  }
}
