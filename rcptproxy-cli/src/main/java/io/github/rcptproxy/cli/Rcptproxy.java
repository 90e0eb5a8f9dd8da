package io.github.rcptproxy.cli;

import io.github.rcptproxy.gateway.UsageException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.function.Supplier;
import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParseResult;

/**
 * {@code rcptproxy}: one command for every mode, the only entry point of {@code rcptproxy.jar}.
 * Every subcommand is parsed by picocli, with defaults from the environment and a {@code --config}
 * file ({@link ConfigDefaults}).
 */
@Command(
    name = "rcptproxy",
    mixinStandardHelpOptions = true,
    versionProvider = Rcptproxy.Version.class,
    description = "Verifies mail recipients at RCPT time by asking the backend mail server.",
    subcommands = {
      GatewayCommand.class,
      PolicyCommand.class,
      VerifyCommand.class,
      ProbeCommand.class,
      Demo.class,
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
public final class Rcptproxy {
  /** Returned by a command that started a server which keeps running. */
  static final int KEEP_RUNNING = -1;

  static final int USAGE_ERROR = 2;

  /** The exit codes of a server command. */
  static final String STOPPED = "0:stopped";

  static final String NOT_STARTED = "1:could not start (address in use...)";
  static final String BAD_OPTION = "2:bad option or configuration";

  /** Where options come from, as every command's help says. */
  static final String SOURCES =
      "Every option can also come from the environment (--timeout-ms: RCPTPROXY_TIMEOUT_MS) or"
          + " from --config FILE (timeout-ms=500); the command line wins over the environment,"
          + " which wins over the file.";

  private Rcptproxy() {}

  public static void main(String[] args) {
    int code = run(args, System.in, System.out, System.err);
    if (code != KEEP_RUNNING) {
      System.exit(code);
    }
    try {
      // a server runs until the JVM is told to stop; the shutdown hook drains it
      new CountDownLatch(1).await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Runs a command line. Returns the exit code of a command that has finished, or {@link
   * #KEEP_RUNNING} when a server was started (it is stopped by the JVM's shutdown hook).
   */
  static int run(String[] args, InputStream in, PrintStream out, PrintStream err) {
    CommandLine commandLine = commandLine(ConfigDefaults.from(args, System.getenv()), out, err);
    ((VerifyCommand) commandLine.getSubcommands().get("verify").getCommand()).readFrom(in);
    return commandLine.execute(args);
  }

  /** The command tree, with defaults from {@code sources} and errors reported on one line. */
  static CommandLine commandLine(ConfigDefaults sources, PrintStream out, PrintStream err) {
    CommandLine commandLine = new CommandLine(Rcptproxy.class);
    commandLine.setOut(new PrintWriter(out, true));
    commandLine.setErr(new PrintWriter(err, true));
    commandLine.setDefaultValueProvider(sources);
    // as before the subcommands: a wrapper script may give defaults that the user then overrides
    commandLine.getSubcommands().get("gateway").setOverwrittenOptionsAllowed(true);
    commandLine.getSubcommands().get("demo").setOverwrittenOptionsAllowed(true);
    commandLine.setParameterExceptionHandler(Rcptproxy::usageError);
    commandLine.setExecutionStrategy(
        parsed -> {
          checkConfig(parsed, sources);
          return new CommandLine.RunLast().execute(parsed);
        });
    commandLine.setExecutionExceptionHandler(
        (e, failed, parsed) -> {
          failed.getErr().println(prefix(failed) + e.getMessage());
          return e instanceof UsageException ? USAGE_ERROR : 1;
        });
    return commandLine;
  }

  /**
   * Parses the command line of {@code sources} as {@link #run} does, without running it: the
   * subcommand, its options set.
   *
   * @throws CommandLine.ParameterException for a bad option or config file
   */
  static <T> T parse(ConfigDefaults sources, Class<T> command) {
    PrintStream nowhere = new PrintStream(PrintStream.nullOutputStream());
    ParseResult parsed = commandLine(sources, nowhere, nowhere).parseArgs(sources.args());
    checkConfig(parsed, sources);
    return command.cast(last(parsed).commandSpec().userObject());
  }

  private static void checkConfig(ParseResult parsed, ConfigDefaults sources) {
    ParseResult command = last(parsed);
    if (!command.isUsageHelpRequested() && !command.isVersionHelpRequested()) {
      sources.check(command.commandSpec());
    }
  }

  private static ParseResult last(ParseResult parsed) {
    List<CommandLine> commands = parsed.asCommandLineList();
    return commands.get(commands.size() - 1).getParseResult();
  }

  /** One line naming the command; with no command at all, the list of commands too. */
  private static int usageError(CommandLine.ParameterException e, String[] args) {
    CommandLine failed = e.getCommandLine();
    failed.getErr().println(prefix(failed) + e.getMessage());
    if (failed.getParent() == null) {
      failed.usage(failed.getErr());
    }
    return USAGE_ERROR;
  }

  private static String prefix(CommandLine command) {
    return command.getCommandSpec().qualifiedName() + ": ";
  }

  /**
   * Runs {@code build}, reporting a value it refuses as a bad option of {@code command} (exit 2),
   * the one place where the builders' messages become the command's.
   */
  static <T> T checked(CommandSpec command, Supplier<T> build) {
    try {
      return build.get();
    } catch (IllegalArgumentException | UsageException e) {
      throw new CommandLine.ParameterException(command.commandLine(), e.getMessage(), e);
    }
  }

  /** Stops {@code running} when the JVM is told to stop; the server keeps running till then. */
  static int keepRunning(CommandSpec command, AutoCloseable running) {
    PrintWriter err = command.commandLine().getErr();
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  try {
                    running.close();
                  } catch (Exception e) {
                    err.println(prefix(command.commandLine()) + "error while stopping: " + e);
                  }
                },
                "rcptproxy-shutdown"));
    return KEEP_RUNNING;
  }

  /** The items of a repeatable, comma-separated option, without blanks (none if not given). */
  static List<String> items(List<String> values) {
    return values == null
        ? List.of()
        : values.stream().map(String::strip).filter(v -> !v.isEmpty()).toList();
  }

  /**
   * How every subcommand's help is laid out, and its --help and --version: a mixin, for its
   * {@code @Command} attributes.
   */
  @Command(
      mixinStandardHelpOptions = true,
      versionProvider = Rcptproxy.Version.class,
      sortOptions = false,
      abbreviateSynopsis = true,
      usageHelpAutoWidth = true,
      showDefaultValues = true,
      exitCodeListHeading = "Exit codes:%n")
  static final class Usage {}

  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String version = Rcptproxy.class.getPackage().getImplementationVersion();
      return new String[] {"rcptproxy " + (version == null ? "(development build)" : version)};
    }
  }
}
