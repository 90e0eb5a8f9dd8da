package io.github.rcptproxy.cli;

import io.github.rcptproxy.gateway.GatewaySettings;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.util.Arrays;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code rcptproxy}: one command for every mode. {@code policy}, {@code verify} and {@code probe}
 * are parsed by picocli; {@code gateway} and {@code demo} hand their arguments to the gateway's own
 * parser ({@link GatewaySettings}, itself built on picocli's option model), so every existing
 * {@code rcptproxy.jar} command line works unchanged with or without the subcommand name.
 */
@Command(
    name = "rcptproxy",
    mixinStandardHelpOptions = true,
    versionProvider = Rcptproxy.Version.class,
    description = "Verifies mail recipients at RCPT time by asking the backend mail server.",
    subcommands = {
      Rcptproxy.GatewayCommand.class,
      PolicyCommand.class,
      VerifyCommand.class,
      ProbeCommand.class,
      Rcptproxy.DemoCommand.class,
      AutoComplete.GenerateCompletion.class,
      CommandLine.HelpCommand.class
    },
    exitCodeListHeading = "Exit codes:%n",
    exitCodeList = {
      "0:done (a server: stopped cleanly)",
      "1:failed (could not listen, backend could not be probed)",
      "2:bad option or configuration",
      "4:probe: the backend does not refuse unknown recipients"
    })
final class Rcptproxy {
  /** Returned by a command that started a server which keeps running. */
  static final int KEEP_RUNNING = -1;

  static final Set<String> SUBCOMMANDS =
      Set.of("gateway", "policy", "verify", "probe", "demo", "generate-completion", "help");

  private Rcptproxy() {}

  /** The picocli command tree, with defaults from the environment and a {@code --config} file. */
  static CommandLine commandLine(String[] args, PrintStream out, PrintStream err) {
    CommandLine commandLine = new CommandLine(Rcptproxy.class);
    commandLine.setOut(new PrintWriter(out, true));
    commandLine.setErr(new PrintWriter(err, true));
    commandLine.setDefaultValueProvider(ConfigDefaults.from(args, System.getenv()));
    // listed for help and completion; parsed by GatewaySettings, which reads its own config file
    GatewaySettings.addOptions(commandLine.getSubcommands().get("gateway").getCommandSpec());
    commandLine.setExecutionExceptionHandler(
        (e, cmd, parsed) -> {
          cmd.getErr().println("rcptproxy " + cmd.getCommandName() + ": " + e.getMessage());
          return 1;
        });
    return commandLine;
  }

  /** Runs {@code args} whose first word is one of {@link #SUBCOMMANDS}. */
  static int run(String[] args, InputStream in, PrintStream out, PrintStream err) {
    String[] rest = Arrays.copyOfRange(args, 1, args.length);
    switch (args[0]) {
      case "gateway":
        return Gateway.run(rest.length == 0 ? new String[] {"--help"} : rest, in, out, err);
      case "demo":
        return Gateway.run(prepend("--demo", rest), in, out, err);
      default:
        break;
    }
    CommandLine commandLine;
    try {
      commandLine = commandLine(args, out, err);
    } catch (CommandLine.ParameterException e) {
      err.println("rcptproxy: " + e.getMessage());
      return Gateway.USAGE_ERROR;
    }
    ((VerifyCommand) commandLine.getSubcommands().get("verify").getCommand()).readFrom(in);
    commandLine.setParameterExceptionHandler(
        (e, given) -> {
          e.getCommandLine()
              .getErr()
              .println("rcptproxy " + e.getCommandLine().getCommandName() + ": " + e.getMessage());
          return Gateway.USAGE_ERROR;
        });
    return commandLine.execute(args);
  }

  /** {@code rcptproxy gateway}: listed here for help and completion, run by {@link Gateway}. */
  @Command(
      name = "gateway",
      description = {
        "The screening SMTP gateway (as `java -jar rcptproxy.jar OPTIONS`); options in"
            + " `rcptproxy gateway --help`. --config FILE is reloaded when it changes; every option"
            + " can also be set as RCPTPROXY_NAME in the environment."
      })
  static final class GatewayCommand implements Callable<Integer> {
    @Override
    public Integer call() {
      throw new IllegalStateException("run by Gateway");
    }
  }

  /** {@code rcptproxy demo}: as {@code --demo}. */
  @Command(
      name = "demo",
      description = "Starts an in-process backend and the gateway in front of it (as --demo).")
  static final class DemoCommand implements Callable<Integer> {
    @Override
    public Integer call() {
      throw new IllegalStateException("run by Gateway");
    }
  }

  private static String[] prepend(String first, String[] rest) {
    String[] all = new String[rest.length + 1];
    all[0] = first;
    System.arraycopy(rest, 0, all, 1, rest.length);
    return all;
  }

  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String version = Rcptproxy.class.getPackage().getImplementationVersion();
      return new String[] {"rcptproxy " + (version == null ? "(development build)" : version)};
    }
  }

  static boolean isSubcommand(String[] args) {
    return args.length > 0
        && (SUBCOMMANDS.contains(args[0]) || Arrays.asList("--version").contains(args[0]));
  }
}
