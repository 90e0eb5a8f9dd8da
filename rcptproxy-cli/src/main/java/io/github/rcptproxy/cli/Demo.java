package io.github.rcptproxy.cli;

import io.github.rcptproxy.gateway.GatewaySettings;
import io.github.rcptproxy.gateway.RunningGateway;
import java.io.PrintStream;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.subethamail.smtp.server.SMTPServer;
import org.subethamail.wiser.Wiser;

/**
 * {@code --demo}: an in-process backend (SubEthaSMTP's Wiser) that knows two mailboxes, and the
 * gateway in front of it, with an empty bypass list so that your own loopback connections are
 * verified too.
 */
final class Demo implements AutoCloseable {
  static final Set<String> MAILBOXES =
      Set.of("alice@example.com", "bob@example.com", "postmaster@example.com");

  private final Wiser backend;
  private final RunningGateway gateway;

  private Demo(Wiser backend, RunningGateway gateway) {
    this.backend = backend;
    this.gateway = gateway;
  }

  static Demo start(String[] args, PrintStream out) {
    Wiser backend =
        Wiser.accepter((from, to) -> MAILBOXES.contains(to))
            .server(
                SMTPServer.port(0)
                    .bindAddress(InetAddress.getLoopbackAddress())
                    .hostName("backend.example.com")
                    .insertReceivedHeaders(false));
    backend.start();
    try {
      List<String> demoArgs =
          new ArrayList<>(
              List.of(
                  "--backend", "127.0.0.1:" + backend.getServer().getPortAllocated(),
                  "--domain", "example.com",
                  "--bypass", "",
                  "--bypass-backend", "false"));
      demoArgs.addAll(List.of(args));
      RunningGateway gateway =
          RunningGateway.start(GatewaySettings.parse(demoArgs.toArray(new String[0])));
      // Wiser's refusals carry no enhanced status code, so the verifier takes them as about the
      // mailbox only once the backend accepted an address it can ask as the control: ask one now.
      gateway.verifier().verify("alice@example.com");
      Demo demo = new Demo(backend, gateway);
      demo.printIntroduction(out);
      return demo;
    } catch (RuntimeException e) {
      backend.stop();
      throw e;
    }
  }

  RunningGateway gateway() {
    return gateway;
  }

  Wiser backend() {
    return backend;
  }

  private void printIntroduction(PrintStream out) {
    String listen = gateway.listening();
    String host = listen.substring(0, listen.lastIndexOf(':'));
    String port = listen.substring(listen.lastIndexOf(':') + 1);
    out.println("rcptproxy gateway demo");
    out.println(
        "  backend : in-process SubEthaSMTP on 127.0.0.1:"
            + backend.getServer().getPortAllocated()
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
        "  RCPT TO:<nobody@example.com>    -> 550 5.1.1 Unable to relay to nobody@example.com (then the gateway hangs up)");
    out.println();
    out.println("One log line per verification follows. Ctrl-C stops.");
    out.flush();
  }

  @Override
  public void close() {
    gateway.close();
    backend.stop();
  }
}
