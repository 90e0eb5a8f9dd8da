package io.github.rcptproxy.debian;

import io.github.rcptproxy.cli.Rcptproxy;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.Deflater;
import java.util.zip.GZIPOutputStream;
import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;

/**
 * Writes the files of the package that come from the command's picocli model, under a directory
 * that the package installs as {@code /usr/share}: {@code man/man1/rcptproxy.1.gz} and one page per
 * subcommand ({@code rcptproxy-gateway.1.gz}, ...), and {@code
 * bash-completion/completions/rcptproxy}. Run by the build: {@code InstallFiles DIRECTORY VERSION}.
 */
public final class InstallFiles {
  /** The files every page lists, with what each is. */
  static final List<String> FILES =
      List.of(
          "/etc/rcptproxy/gateway.conf\toptions of rcptproxy-gateway.service (--config)",
          "/etc/rcptproxy/policy.conf\toptions of rcptproxy-policy.service (--config)",
          "/usr/share/doc/rcptproxy\tthe package's documentation");

  /** The environment every page lists: the launcher's, and the options'. */
  static final List<String> ENVIRONMENT =
      List.of(
          "JAVA_HOME\tthe Java 17 runtime to run (default: Debian's OpenJDK 17, else java on the"
              + " PATH)",
          "JAVA_OPTS\toptions for the JVM, e.g. -Xmx256m",
          "RCPTPROXY_CONFIG\tthe --config file, if none is given",
          "RCPTPROXY_NAME\tthe option --name (RCPTPROXY_TIMEOUT_MS: --timeout-ms); the command"
              + " line wins over the environment, which wins over the --config file");

  private InstallFiles() {}

  public static void main(String[] args) throws IOException {
    if (args.length != 2) {
      throw new IllegalArgumentException("usage: InstallFiles DIRECTORY VERSION");
    }
    write(Path.of(args[0]), args[1]);
  }

  /** Writes the man pages and the completion script under {@code share}. */
  static void write(Path share, String version) throws IOException {
    CommandLine root = new CommandLine(Rcptproxy.class);
    Path man1 = Files.createDirectories(share.resolve("man/man1"));
    for (CommandSpec command : pages(root)) {
      gzip(
          man1.resolve(ManPage.name(command) + ".1.gz"),
          new ManPage(command, version, ENVIRONMENT, FILES).troff());
    }
    Path completions = Files.createDirectories(share.resolve("bash-completion/completions"));
    Files.writeString(
        completions.resolve("rcptproxy"),
        AutoComplete.bash("rcptproxy", root),
        StandardCharsets.UTF_8);
  }

  /** The commands that get a page: the root and each subcommand but help and completion. */
  static List<CommandSpec> pages(CommandLine root) {
    List<CommandSpec> pages = new ArrayList<>();
    pages.add(root.getCommandSpec());
    for (CommandLine subcommand : root.getSubcommands().values()) {
      if (ManPage.isOwnPage(subcommand.getCommandSpec())) {
        pages.add(subcommand.getCommandSpec());
      }
    }
    return pages;
  }

  /** Gzipped at the highest level, as Debian policy asks, with no file name or time inside. */
  private static void gzip(Path file, String text) throws IOException {
    try (OutputStream out =
        new GZIPOutputStream(Files.newOutputStream(file)) {
          {
            def.setLevel(Deflater.BEST_COMPRESSION);
          }
        }) {
      out.write(text.getBytes(StandardCharsets.UTF_8));
    }
  }
}
