package io.github.rcptproxy.cli;

import io.github.rcptproxy.VerifierConfig;
import io.github.rcptproxy.gateway.HostPort;
import io.github.rcptproxy.internal.smtp.SessionRefusedException;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code rcptproxy probe}: what the backend answers, and the configuration to use with it. */
@Command(
    name = "probe",
    description = {
      "Asks the backend what rcptproxy needs to know before it relies on it: does RCPT refuse a"
          + " random local part, does VRFY, is the domain a catch-all, does it verify senders,"
          + " what it offers, and how many rejections and VRFYs one session takes before it"
          + " slows down or hangs up (stopping at the first sign, within its own limits).",
      "Prints a report and a recommended configuration, for each --backend in turn.",
      Rcptproxy.SOURCES
    },
    exitCodeList = {
      "0:every backend refuses unknown recipients (with the recommended configuration)",
      "1:a backend could not be probed (down, refused the session or the HELO name, or did not"
          + " greet within 30 s)",
      Rcptproxy.BAD_OPTION,
      "4:probed, but a backend's RCPT does not refuse unknown recipients (catch-all, or no"
          + " validation)"
    })
final class ProbeCommand implements Callable<Integer> {
  static final int DISHONEST = 4;

  @Spec CommandSpec spec;

  @Mixin ConfigDefaults.ConfigOption config;

  // the same options as every command that asks the backend, but a reply may take 5 s
  @Mixin VerifierOptions options = new VerifierOptions(5000);

  @Option(
      names = "--domain",
      paramLabel = "NAME",
      required = true,
      description = "a domain it serves")
  String domain;

  @Option(
      names = "--max-rejections",
      paramLabel = "N",
      converter = Converters.Positive.class,
      defaultValue = "25",
      description = "unknown recipients sent at most to find the limit")
  int maxRejections;

  @Option(
      names = "--max-vrfy",
      paramLabel = "N",
      converter = Converters.Positive.class,
      defaultValue = "130",
      description = "VRFY commands sent at most to find the limit")
  int maxVrfy;

  @Mixin Rcptproxy.Usage usage; // help, --version, how help is laid out

  /**
   * Probes each --backend in turn (the verifier asks them in that order, so each may have to
   * answer): a report for each; the exit code is 1 if one could not be probed, else 4 if one does
   * not refuse unknown recipients.
   */
  @Override
  public Integer call() {
    options.config(); // refuses a missing --backend, or a value no configuration takes
    List<BackendProbe> probes = new ArrayList<>();
    for (HostPort backend : options.backends()) {
      VerifierConfig config = options.config(backend);
      probes.add(
          Rcptproxy.checked(spec, () -> new BackendProbe(config, domain, maxRejections, maxVrfy)));
    }
    int exit = 0;
    for (int i = 0; i < probes.size(); i++) {
      int code = probe(probes.get(i), options.backends().get(i).toString());
      exit = exit == 1 || code == 1 ? 1 : Math.max(exit, code);
    }
    return exit;
  }

  private int probe(BackendProbe probe, String backend) {
    PrintWriter out = spec.commandLine().getOut();
    BackendProbe.Report r;
    try {
      r = probe.run();
    } catch (IOException e) {
      PrintWriter err = spec.commandLine().getErr();
      err.println("rcptproxy probe: " + backend + ": " + e.getMessage());
      if (e instanceof SessionRefusedException refused && refused.command().isPresent()) {
        err.println(
            "rcptproxy probe: give --helo a fully qualified name of this host that the backend"
                + " takes (it refused "
                + refused.command().get()
                + "); the gateway and the policy server take the same option");
      } else if (e instanceof SessionRefusedException refused && refused.reply().code() == 421) {
        err.println(
            "rcptproxy probe: the backend refuses new sessions from this host; where it limits"
                + " connections per client (Postfix smtpd_client_connection_rate_limit or"
                + " smtpd_client_connection_count_limit, Exim smtp_accept_max_per_host), the"
                + " verifier meets that limit too: exempt this host (Postfix:"
                + " smtpd_client_event_limit_exceptions)");
      }
      err.flush();
      return 1;
    }
    out.println("backend " + backend + ", domain " + domain);
    out.println("  greeting                 " + r.greeting());
    out.println("  greeting took            " + r.greetingMillis() + " ms");
    out.println(
        "  probe sender             <"
            + r.sender()
            + ">"
            + (r.senderRefusal().isEmpty()
                ? ""
                : " (the configured one was refused: " + r.senderRefusal() + ")"));
    out.println("  PIPELINING               " + yesNo(r.offers("PIPELINING")));
    out.println("  SMTPUTF8                 " + yesNo(r.offers("SMTPUTF8")));
    out.println("  STARTTLS                 " + yesNo(r.offers("STARTTLS")));
    out.println("  CHUNKING                 " + yesNo(r.offers("CHUNKING")));
    out.println(
        "  RCPT random local part   " + r.randomRcpt() + " (" + r.randomRcptMillis() + " ms)");
    out.println("  RCPT postmaster          " + r.postmasterRcpt());
    out.println("  RCPT answers honestly    " + yesNo(r.rcptHonest()));
    out.println("  catch-all                " + yesNo(r.catchAll()));
    out.println("  VRFY random local part   " + r.randomVrfy());
    out.println("  VRFY postmaster          " + r.postmasterVrfy());
    out.println("  VRFY answers honestly    " + yesNo(r.vrfyHonest()));
    out.println("  made-up sender, RCPT     " + r.foreignSenderRcpt());
    out.println("  verifies senders         " + yesNo(r.verifiesSenders()));
    out.println("  rejections per session   " + r.rejections());
    out.println("  VRFYs per session        " + r.vrfys());
    out.println("recommended:");
    for (String line : BackendProbe.recommend(r)) {
      out.println("  " + line);
    }
    out.flush();
    if (!r.heloRefusal().isEmpty()) {
      return 1;
    }
    return r.rcptHonest() ? 0 : DISHONEST;
  }

  private static String yesNo(boolean value) {
    return value ? "yes" : "no";
  }
}
