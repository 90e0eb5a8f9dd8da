package io.github.rcptproxy.cli;

import io.github.rcptproxy.gateway.GatewaySettings;
import io.github.rcptproxy.gateway.RunningGateway;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import org.subethamail.smtp.server.SMTPServer;
import org.subethamail.wiser.Wiser;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.Spec;

/**
 * {@code rcptproxy demo}: an in-process backend (SubEthaSMTP's Wiser) that knows two mailboxes, and
 * the gateway in front of it, with an empty bypass list so that your own loopback connections are
 * verified too. Takes the gateway's options; those it sets itself (backend, domain, bypass) it
 * leaves to the command line where given there.
 */
@Command(
    name = "demo",
    description = {
      "Starts an in-process backend that knows alice@ and bob@example.com, and the gateway in"
          + " front of it for example.com, verifying every client. Takes the gateway's options.",
      Rcptproxy.SOURCES
    },
    exitCodeList = {Rcptproxy.STOPPED, Rcptproxy.NOT_STARTED, Rcptproxy.BAD_OPTION})
final class Demo implements Callable<Integer> {
  static final Set<String> MAILBOXES =
      Set.of("alice@example.com", "bob@example.com", "postmaster@example.com");

  @Spec CommandSpec spec;

  @Mixin GatewayOptions options;

  @Mixin Rcptproxy.Usage usage; // help, --version, how help is laid out

  @Override
  public Integer call() {
    return Rcptproxy.keepRunning(spec, start());
  }

  /** A started demo: the backend and the gateway in front of it. */
  record Running(Wiser backend, RunningGateway gateway) implements AutoCloseable {
    @Override
    public void close() {
      gateway.close();
      backend.stop();
    }
  }

  /** Starts the backend and the gateway, and prints how to try them. */
  Running start() {
    Wiser backend =
        Wiser.accepter((from, to) -> MAILBOXES.contains(to))
            .server(
                SMTPServer.port(0)
                    .bindAddress(InetAddress.getLoopbackAddress())
                    .hostName("backend.example.com")
                    .insertReceivedHeaders(false));
    backend.start();
    try {
      GatewaySettings settings =
          Rcptproxy.checked(spec, () -> demo(backend.getServer().getPortAllocated()).build());
      RunningGateway gateway = Rcptproxy.checked(spec, () -> RunningGateway.start(settings));
      // Wiser's refusals carry no enhanced status code, so the verifier takes them as about the
      // mailbox only once the backend accepted an address it can ask as the control: ask one now.
      gateway.verifier().verify("alice@example.com");
      Running demo = new Running(backend, gateway);
      printIntroduction(demo, spec.commandLine().getOut());
      return demo;
    } catch (RuntimeException e) {
      backend.stop();
      throw e;
    }
  }

  /** The gateway's options, with the demo's backend, domain and bypass where none was given. */
  private GatewaySettings.Builder demo(int backendPort) {
    ParseResult given = spec.commandLine().getParseResult();
    GatewaySettings.Builder settings = options.builder();
    if (!given.hasMatchedOption("--backend")) {
      settings.verifier(v -> v.backend("127.0.0.1", backendPort));
    }
    if (!given.hasMatchedOption("--domain")) {
      settings.domains(List.of("example.com"));
    }
    if (!given.hasMatchedOption("--bypass")) {
      settings.policy(p -> p.bypass(List.of()));
    }
    if (!given.hasMatchedOption("--bypass-backend")) {
      settings.policy(p -> p.bypassBackend(false));
    }
    return settings;
  }

  private static void printIntroduction(Running demo, PrintWriter out) {
    String listen = demo.gateway().listening();
    String host = listen.substring(0, listen.lastIndexOf(':'));
    String port = listen.substring(listen.lastIndexOf(':') + 1);
    out.println("rcptproxy gateway demo");
    out.println(
        "  backend : in-process SubEthaSMTP on 127.0.0.1:"
            + demo.backend().getServer().getPortAllocated()
            + ", mailboxes alice@example.com, bob@example.com");
    out.println(
        "  gateway : listening on " + listen + " for example.com, verifying every recipient");
    out.println();
    out.println("Try it from another terminal:");
    out.println(
        "  swaks --server "
            + listen
            + " --from you@example.net --to alice@example.com   # accepted and relayed");
    out.println(
        "  swaks --server "
            + listen
            + " --from you@example.net --to nobody@example.com  # 550 5.1.1 Unable to relay to nobody@example.com");
    out.println("or by hand (nc -C " + host + " " + port + "):");
    out.println("  EHLO me");
    out.println("  MAIL FROM:<you@example.net>");
    out.println("  RCPT TO:<alice@example.com>     -> 250 Ok");
    out.println(
        "  RCPT TO:<nobody@example.com>    -> 550 5.1.1 Unable to relay to nobody@example.com");
    out.println();
    out.println(
        "One log line per rejected recipient and per relayed message follows. Ctrl-C stops.");
    out.flush();
  }
}
