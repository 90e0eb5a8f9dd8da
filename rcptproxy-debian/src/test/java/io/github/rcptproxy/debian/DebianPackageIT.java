package io.github.rcptproxy.debian;

import static io.github.rcptproxy.debian.Commands.run;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.rcptproxy.testing.PostfixBackend;
import io.github.rcptproxy.testing.RealServers;
import io.github.rcptproxy.testing.SmtpClient;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The .deb from {@code mvn package}, installed with {@code dpkg -i} on this machine and used as an
 * admin would: the command, its man pages and completion, the units checked by {@code
 * systemd-analyze verify}, the policy server started as its units start it (its user, its command
 * line, its socket passed as systemd passes it) behind a real Postfix front, the gateway started as
 * its unit starts it (its user, its capability) on a privileged port, then removed (both servers
 * running) and purged; then installed again after a remove and after the admin deleted a config
 * file, and installed and removed beside an admin's own user rcptproxy and its process. Needs root,
 * dpkg, Postfix, man-db and systemd's tools (systemd need not be running); without them it is
 * skipped, under {@code CI=true} it fails. The package is purged at the end.
 */
@RealServers
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class DebianPackageIT {
  private static final Path UNITS = Path.of("/lib/systemd/system");
  private static final Path POSTFIX_QUEUE = Path.of("/var/spool/postfix");
  private static final List<String> TOOLS =
      List.of(
          "dpkg",
          "apt-get",
          "man",
          "systemd-analyze",
          "systemd-socket-activate",
          "setpriv",
          "bash");

  static Path deb;
  static PostfixBackend backend;
  static PostfixBackend front;
  static Process policy;
  static Process gateway;

  /** The admin's own process, run as an admin's own user rcptproxy. */
  static Process adminsProcess;

  @BeforeAll
  static void install() throws IOException {
    List<String> missing = new ArrayList<>();
    if (!"root".equals(System.getProperty("user.name"))) {
      missing.add("root");
    }
    TOOLS.stream().filter(tool -> !Commands.installed(tool)).forEach(missing::add);
    if (missing.isEmpty() && run("dpkg", "-s", "rcptproxy").exitCode() == 0) {
      missing.add("no rcptproxy package installed already (this test would replace it)");
    }
    if (missing.isEmpty()
        && (run("getent", "passwd", "rcptproxy").exitCode() == 0
            || run("getent", "group", "rcptproxy").exitCode() == 0)) {
      missing.add("no user or group rcptproxy already (this test creates and deletes them)");
    }
    if (!missing.isEmpty() && "true".equals(System.getenv("CI"))) {
      Assertions.fail("CI=true but the package cannot be tested here, needs: " + missing);
    }
    Assumptions.assumeTrue(
        missing.isEmpty(),
        "Debian package tests skipped: need " + missing + " (.ci/run installs them)");
    deb = builtPackage();
    installConfigured(deb);
  }

  @AfterAll
  static void purge() throws IOException {
    for (Process server : new Process[] {policy, gateway, adminsProcess}) {
      if (server != null) {
        server.destroy();
      }
    }
    if (front != null) {
      front.close();
    }
    if (deb != null) {
      run("dpkg", "--purge", "rcptproxy");
      // none was there before the test: what is left is the test's own admin user, or a leftover
      run("deluser", "--quiet", "--system", "rcptproxy");
      run("delgroup", "--quiet", "--system", "rcptproxy");
    }
  }

  /** target/rcptproxy_VERSION_all.deb: its name has the Debian form of the version. */
  private static Path builtPackage() throws IOException {
    Path target = Path.of(System.getProperty("rcptproxy.target", "target"));
    List<Path> found = new ArrayList<>();
    try (DirectoryStream<Path> debs = Files.newDirectoryStream(target, "rcptproxy_*_all.deb")) {
      debs.forEach(found::add);
    }
    assertThat(found).as("the .deb of mvn package in " + target).hasSize(1);
    return found.get(0);
  }

  @Test
  @Order(1)
  void installsTheCommandItsJarConfigUnitsManPagesAndCompletion() throws IOException {
    assertThat(run("dpkg-query", "-L", "rcptproxy").output().lines())
        .contains(
            "/usr/bin/rcptproxy",
            "/usr/share/rcptproxy/rcptproxy.jar",
            "/etc/rcptproxy/gateway.conf",
            "/etc/rcptproxy/policy.conf",
            "/lib/systemd/system/rcptproxy-gateway.service",
            "/lib/systemd/system/rcptproxy-policy.service",
            "/lib/systemd/system/rcptproxy-policy.socket",
            "/usr/share/man/man1/rcptproxy.1.gz",
            "/usr/share/man/man1/rcptproxy-policy.1.gz",
            "/usr/share/bash-completion/completions/rcptproxy",
            "/usr/share/doc/rcptproxy/copyright",
            "/usr/share/doc/rcptproxy/install.md");
    assertThat(run("dpkg-query", "-W", "-f", "${Conffiles}", "rcptproxy").output())
        .contains("/etc/rcptproxy/gateway.conf", "/etc/rcptproxy/policy.conf");
  }

  @Test
  @Order(2)
  void theCommandPrintsTheVersionItWasBuiltAs() throws IOException {
    Commands.Result version = run("rcptproxy", "--version");
    assertThat(version.exitCode()).as(version.output()).isZero();
    assertThat(version.output().strip())
        .isEqualTo("rcptproxy " + System.getProperty("rcptproxy.version"));
  }

  @Test
  @Order(3)
  void manFindsAndRendersThePages() throws IOException {
    assertThat(run("man", "-w", "rcptproxy").output().strip())
        .isEqualTo("/usr/share/man/man1/rcptproxy.1.gz");
    Commands.Result page = run("env", "MANWIDTH=100", "man", "-P", "cat", "rcptproxy-policy");
    assertThat(page.exitCode()).as(page.output()).isZero();
    assertThat(page.output()).contains("rcptproxy-policy - A Postfix policy server", "--backend");
  }

  @Test
  @Order(4)
  void bashCompletesSubcommandsFromTheInstalledScript() throws IOException {
    Commands.Result completed =
        run(
            "bash",
            "-c",
            "source /usr/share/bash-completion/completions/rcptproxy; COMP_WORDS=(rcptproxy pol);"
                + " COMP_CWORD=1; _complete_rcptproxy; echo \"${COMPREPLY[@]}\"");
    assertThat(completed.output().strip()).isEqualTo("policy");
  }

  @Test
  @Order(5)
  void systemdAnalyzeVerifiesTheInstalledUnits() throws IOException {
    Commands.Result verified =
        run(
            "systemd-analyze",
            "verify",
            UNITS.resolve("rcptproxy-gateway.service").toString(),
            UNITS.resolve("rcptproxy-policy.service").toString(),
            UNITS.resolve("rcptproxy-policy.socket").toString());
    assertThat(verified.exitCode()).as(verified.output()).isZero();
    assertThat(verified.output().lines().filter(line -> line.contains("rcptproxy")))
        .as(verified.output())
        .isEmpty();
  }

  @Test
  @Order(6)
  void theSystemUserHasNoLoginAndIsNotRoot() throws IOException {
    String[] user = run("getent", "passwd", "rcptproxy").output().strip().split(":");
    assertThat(Integer.parseInt(user[2])).isBetween(1, 999);
    assertThat(user[5]).isEqualTo("/var/lib/rcptproxy");
    assertThat(user[6]).isEqualTo("/usr/sbin/nologin");
  }

  /** postinst makes the units' StateDirectory, so that a server started without systemd has it. */
  @Test
  @Order(7)
  void theStateDirectoryIsTheSystemUsersOwn() throws IOException {
    Map<String, String> service = Commands.unit(UNITS.resolve("rcptproxy-policy.service"));
    Path state = stateDirectory(service);
    assertThat(state).isDirectory();
    assertThat(run("stat", "-c", "%U:%G %a", state.toString()).output().strip())
        .isEqualTo(service.get("Service.User") + ":" + service.get("Service.Group") + " 750");
  }

  /**
   * The policy server as the socket unit and the service unit start it: the socket where the unit
   * puts it (in the front Postfix's queue directory instead of {@code /var/spool/postfix}), with
   * the unit's owner, group and mode; the service's command line run as the service's user, the
   * socket passed as fd 3 with {@code LISTEN_FDS} (systemd-socket-activate). Postfix asks it over
   * {@code check_policy_service unix:private/rcptproxy-policy}.
   */
  @Test
  @Order(8)
  void thePolicyUnitServesAPostfixFrontOverItsUnixSocket() throws Exception {
    Map<String, String> service = Commands.unit(UNITS.resolve("rcptproxy-policy.service"));
    Map<String, String> socket = Commands.unit(UNITS.resolve("rcptproxy-policy.socket"));
    Path listen = Path.of(socket.get("Socket.ListenStream"));
    assertThat(listen.startsWith(POSTFIX_QUEUE)).as(listen.toString()).isTrue();

    backend = PostfixBackend.shared();
    Files.writeString(
        Path.of("/etc/rcptproxy/policy.conf"),
        "backend=127.0.0.1:"
            + backend.port()
            + "\ndomain=example.test\nknown-good="
            + PostfixBackend.known(0)
            + "\n",
        StandardCharsets.UTF_8,
        StandardOpenOption.APPEND);
    front =
        PostfixBackend.start(
            List.of(
                "myhostname = front.example.test",
                "virtual_mailbox_domains =",
                "relay_domains = example.test",
                "relayhost = [127.0.0.1]:" + backend.port(),
                "smtpd_recipient_restrictions = reject_unauth_destination,"
                    + " check_policy_service unix:"
                    + POSTFIX_QUEUE.relativize(listen)));
    Path socketFile = front.queueDirectory().resolve(POSTFIX_QUEUE.relativize(listen));

    policy =
        startAsTheUnit(
            service, List.of("systemd-socket-activate", "--listen=" + socketFile), List.of());
    await("the socket " + socketFile)
        .atMost(Duration.ofSeconds(30))
        .until(() -> Files.exists(socketFile) || !policy.isAlive());
    // what systemd does for SocketUser=, SocketGroup= and SocketMode=
    assertThat(
            run(
                    "chown",
                    socket.get("Socket.SocketUser") + ":" + socket.get("Socket.SocketGroup"),
                    socketFile.toString())
                .exitCode())
        .isZero();
    Files.setPosixFilePermissions(socketFile, PosixFilePermissions.fromString(mode(socket)));

    try (SmtpClient client = new SmtpClient("127.0.0.1", front.port())) {
      assertThat(client.readReply()).startsWith("220");
      assertThat(client.send("EHLO client.example.net")).startsWith("250");
      assertThat(client.send("MAIL FROM:<someone@client.example.net>")).startsWith("250");
      assertThat(client.send("RCPT TO:<" + PostfixBackend.unknown(1) + ">"))
          .as(Files.readString(log(service)))
          .startsWith("550 5.1.1");
      assertThat(client.send("RCPT TO:<" + PostfixBackend.known(1) + ">")).startsWith("250");
    }
    assertRunsAs(policy, service.get("Service.User"));
    // the address the backend accepted, kept in the unit's --state-dir
    Path kept = stateDirectory(service).resolve("known-good");
    await("the known-good address kept in " + kept)
        .atMost(Duration.ofSeconds(30))
        .until(() -> Files.exists(kept) || !policy.isAlive());
    assertThat(Files.readString(log(service)))
        .doesNotContain("state director", "missing directory", "Cannot keep", "Ignoring");
    assertThat(kept).exists();
  }

  /**
   * The gateway as its unit starts it: the unit's user and command line, with the unit's one
   * capability, which lets it bind a port below 1024 (25 in use; here a free one) as that user.
   */
  @Test
  @Order(9)
  void theGatewayUnitBindsAPrivilegedPortAsItsUserAndScreensRecipients() throws Exception {
    Map<String, String> service = Commands.unit(UNITS.resolve("rcptproxy-gateway.service"));
    String capability = service.get("Service.AmbientCapabilities");
    assertThat(service).containsEntry("Service.CapabilityBoundingSet", capability);
    int port = freePrivilegedPort();
    backend = PostfixBackend.shared();
    Files.writeString(
        Path.of("/etc/rcptproxy/gateway.conf"),
        "domain=example.test\nbackend=127.0.0.1:"
            + backend.port()
            + "\nknown-good="
            + PostfixBackend.known(0)
            + "\nlisten=127.0.0.1:"
            + port
            // the test's client comes from loopback, which the gateway trusts by default, and
            // from the backend's own address
            + "\nbypass=\nbypass-backend=false\n",
        StandardCharsets.UTF_8,
        StandardOpenOption.APPEND);
    String setprivName = capability.toLowerCase(Locale.ROOT).replaceFirst("^cap_", "");
    gateway =
        startAsTheUnit(
            service,
            List.of(),
            List.of(
                "--bounding-set=-all,+" + setprivName,
                "--inh-caps=+" + setprivName,
                "--ambient-caps=+" + setprivName));
    await("the gateway on port " + port)
        .atMost(Duration.ofSeconds(60))
        .ignoreExceptions()
        .until(
            () -> {
              if (!gateway.isAlive()) {
                throw new AssertionError(Files.readString(log(service)));
              }
              try (SmtpClient client = new SmtpClient("127.0.0.1", port)) {
                return client.readReply().startsWith("220");
              }
            });
    try (SmtpClient client = new SmtpClient("127.0.0.1", port)) {
      assertThat(client.readReply()).startsWith("220");
      assertThat(client.send("EHLO client.example.net")).startsWith("250");
      assertThat(client.send("MAIL FROM:<someone@client.example.net>")).startsWith("250");
      assertThat(client.send("RCPT TO:<" + PostfixBackend.unknown(2) + ">")).startsWith("550");
      assertThat(client.send("RCPT TO:<" + PostfixBackend.known(2) + ">")).startsWith("250");
    }
    assertRunsAs(gateway, service.get("Service.User"));
  }

  /**
   * Runs a unit's {@code ExecStart} as systemd would: as its {@code User} and {@code Group}, in its
   * {@code WorkingDirectory} (its {@code StateDirectory}, made as systemd makes it), with systemd's
   * environment (a PATH; {@code before}, e.g. systemd-socket-activate, adds {@code LISTEN_FDS} and
   * {@code LISTEN_PID}), and {@code setpriv} options for its capabilities.
   */
  private static Process startAsTheUnit(
      Map<String, String> service, List<String> before, List<String> capabilities)
      throws IOException {
    String user = service.get("Service.User");
    String group = service.get("Service.Group");
    Path stateDirectory = stateDirectory(service);
    assertThat(Path.of(service.get("Service.WorkingDirectory"))).isEqualTo(stateDirectory);
    // made by postinst (as systemd would make it), not here
    assertThat(stateDirectory).isDirectory();
    List<String> command = new ArrayList<>(before);
    command.addAll(List.of("setpriv", "--reuid=" + user, "--regid=" + group, "--init-groups"));
    command.addAll(capabilities);
    command.add("--");
    command.addAll(List.of(service.get("Service.ExecStart").split(" ")));
    ProcessBuilder unit =
        new ProcessBuilder(command)
            .directory(stateDirectory.toFile())
            .redirectErrorStream(true)
            .redirectOutput(log(service).toFile());
    unit.environment().clear();
    unit.environment().put("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    return unit.start();
  }

  /** The unit's StateDirectory, /var/lib/rcptproxy. */
  private static Path stateDirectory(Map<String, String> service) {
    return Path.of("/var/lib", service.get("Service.StateDirectory"));
  }

  /** What the unit's process printed: target/SYSLOGIDENTIFIER.log. */
  private static Path log(Map<String, String> service) {
    return Path.of("target", service.get("Service.SyslogIdentifier") + ".log");
  }

  private static void assertRunsAs(Process process, String user) throws IOException {
    String uid = run("id", "-u", user).output().strip();
    assertThat(Files.readAllLines(Path.of("/proc", Long.toString(process.pid()), "status")))
        .filteredOn(line -> line.startsWith("Uid:"))
        .singleElement()
        .satisfies(line -> assertThat(line.split("\\s+")).containsOnly("Uid:", uid));
  }

  /** A port below 1024 that nothing listens on now (this test runs as root). */
  private static int freePrivilegedPort() throws IOException {
    for (int port = 1023; port > 512; port--) {
      try (ServerSocket socket = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
        return socket.getLocalPort();
      } catch (IOException inUse) {
        // the next one
      }
    }
    throw new IOException("no free port between 513 and 1023");
  }

  /** {@code SocketMode=0660} as the rwx form. */
  private static String mode(Map<String, String> socket) {
    int mode = Integer.parseInt(socket.get("Socket.SocketMode"), 8);
    StringBuilder permissions = new StringBuilder();
    for (int shift = 6; shift >= 0; shift -= 3) {
      int bits = mode >> shift;
      permissions
          .append((bits & 4) != 0 ? 'r' : '-')
          .append((bits & 2) != 0 ? 'w' : '-')
          .append((bits & 1) != 0 ? 'x' : '-');
    }
    return permissions.toString();
  }

  @Test
  @Order(10)
  void removeLeavesNoProcessAndNoUserAndPurgeNoFiles() throws IOException {
    assertThat(List.of(policy, gateway))
        .as("the servers the package must stop")
        .doesNotContainNull();
    assertThat(policy.isAlive()).as("the policy server runs before remove").isTrue();
    assertThat(gateway.isAlive()).as("the gateway runs before remove").isTrue();
    Commands.Result removed = run("apt-get", "remove", "-y", "rcptproxy");
    assertThat(removed.exitCode()).as(removed.output()).isZero();
    await("the servers gone")
        .atMost(Duration.ofSeconds(60))
        .until(() -> !policy.isAlive() && !gateway.isAlive());
    assertThat(
            ProcessHandle.allProcesses()
                .map(p -> p.info().commandLine().orElse(""))
                .filter(line -> line.contains("/usr/share/rcptproxy/rcptproxy.jar")))
        .isEmpty();
    assertThat(run("getent", "passwd", "rcptproxy").exitCode()).isEqualTo(2);
    assertThat(run("getent", "group", "rcptproxy").exitCode()).isEqualTo(2);
    assertNoFileOfADeletedUserOrGroup();
    assertThat(Path.of("/usr/bin/rcptproxy")).doesNotExist();
    assertThat(Path.of("/etc/rcptproxy/policy.conf")).as("a conffile stays until purge").exists();
    assertThat(Path.of("/etc/systemd/system/rcptproxy-gateway.service"))
        .as("masked while its conffiles stay")
        .isSymbolicLink();

    Commands.Result purged = run("dpkg", "--purge", "rcptproxy");
    assertThat(purged.exitCode()).as(purged.output()).isZero();
    assertThat(Path.of("/etc/rcptproxy")).doesNotExist();
    assertThat(Path.of("/var/lib/rcptproxy")).doesNotExist();
    // remove masked the units (links to /dev/null); purge takes the links away
    for (String unit :
        List.of(
            "rcptproxy-gateway.service", "rcptproxy-policy.service", "rcptproxy-policy.socket")) {
      assertThat(Path.of("/etc/systemd/system", unit)).doesNotExist();
    }
    assertThat(run("dpkg", "-s", "rcptproxy").exitCode()).isNotZero();
  }

  /**
   * The admin deleted a config file (dpkg keeps it deleted): installing again configures, and the
   * package installed again after a remove gives its config files back to its new group.
   */
  @Test
  @Order(11)
  void installsAgainAfterARemoveAndAfterTheAdminDeletedAConfigFile() throws IOException {
    try {
      installConfigured(deb);
      Commands.Result removed = run("dpkg", "-r", "rcptproxy");
      assertThat(removed.exitCode()).as(removed.output()).isZero();
      installConfigured(deb);
      assertThat(run("stat", "-c", "%G %a", "/etc/rcptproxy/policy.conf").output().strip())
          .isEqualTo("rcptproxy 640");

      Files.delete(Path.of("/etc/rcptproxy/policy.conf"));
      installConfigured(deb);
      assertThat(Path.of("/etc/rcptproxy/policy.conf")).as("deleted by the admin").doesNotExist();
    } finally {
      run("dpkg", "--purge", "rcptproxy");
    }
  }

  /**
   * A user rcptproxy the admin made (adduser --system: no group of that name) is the package's to
   * run as, never to delete: remove leaves it and its processes, and deletes only the group the
   * package made, after giving that group's files to root.
   */
  @Test
  @Order(12)
  void removeLeavesTheAdminsOwnUserAndItsProcesses() throws IOException {
    Commands.Result user = run("adduser", "--system", "--no-create-home", "rcptproxy");
    assertThat(user.exitCode()).as(user.output()).isZero();
    String gid = run("id", "-g", "rcptproxy").output().strip();
    adminsProcess =
        new ProcessBuilder(
                "setpriv", "--reuid=rcptproxy", "--regid=" + gid, "--clear-groups", "sleep", "3600")
            .start();
    try {
      installConfigured(deb);
      Commands.Result removed = run("dpkg", "-r", "rcptproxy");
      assertThat(removed.exitCode()).as(removed.output()).isZero();
      assertThat(run("getent", "passwd", "rcptproxy").exitCode()).as("the admin's user").isZero();
      assertThat(adminsProcess.isAlive()).as("the admin's process").isTrue();
      assertThat(run("getent", "group", "rcptproxy").exitCode())
          .as("the package's group")
          .isEqualTo(2);
      assertNoFileOfADeletedUserOrGroup();
    } finally {
      adminsProcess.destroy();
      run("dpkg", "--purge", "rcptproxy");
      run("deluser", "--quiet", "--system", "rcptproxy");
    }
  }

  /** dpkg -i, configured to the end (not left half-configured by postinst). */
  private static void installConfigured(Path deb) throws IOException {
    Commands.Result installed = run("dpkg", "-i", deb.toString());
    assertThat(installed.exitCode()).as(installed.output()).isZero();
    assertThat(run("dpkg-query", "-W", "-f", "${Status}", "rcptproxy").output())
        .isEqualTo("install ok installed");
  }

  /**
   * No file the package leaves has the id of a user or group that is gone (a new one reuses it).
   */
  private static void assertNoFileOfADeletedUserOrGroup() throws IOException {
    Commands.Result orphans =
        run("find", "/etc/rcptproxy", "/var/lib/rcptproxy", "-nouser", "-o", "-nogroup");
    assertThat(orphans.exitCode()).as(orphans.output()).isZero();
    assertThat(orphans.output()).isEmpty();
  }
}
