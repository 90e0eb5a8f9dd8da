package io.github.rcptproxy.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Ways a backend misbehaves, as scripts for {@link ScriptedSmtpServer}: one catalogue for the
 * verifier's and the gateway's fault tests (and the table in docs/reliability.md). Every script
 * answers the probe's commands in its own broken way; the ones that get as far as DATA take the
 * message.
 */
public enum BackendFault {
  NEVER_GREETS("accepts TCP, never greets", c -> c.readUntilClosed()),
  GREETING_THEN_SILENCE(
      "greets, then never answers",
      c -> {
        c.write("220 silent.test\r\n");
        c.readUntilClosed();
      }),
  SILENT_AFTER_RCPT(
      "silence after RCPT",
      ScriptedSmtpServer.dialogue(
          a -> {
            Thread.sleep(30_000);
            return null;
          })),
  SLOW_DRIP("replies one byte per second", BackendFault::slowDrip),
  RESET_MID_REPLY(
      "connection reset in the middle of a reply",
      c -> {
        c.write("220 reset.test\r\n");
        c.readLine();
        c.write("250-reset.test\r\n250-PIPE");
        c.reset();
      }),
  SERVICE_UNAVAILABLE_GREETING(
      "421 at greeting", c -> c.write("421 4.3.2 Service not available\r\n")),
  SERVICE_UNAVAILABLE_AT_RCPT(
      "421 at RCPT, then hangs up",
      ScriptedSmtpServer.dialogue(a -> "421 4.7.0 Error: too many errors\r\n")),
  GARBAGE(
      "non-SMTP reply (HTTP)",
      c -> {
        c.write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        c.readUntilClosed();
      }),
  NO_LINE_END(
      "reply without CRLF",
      c -> {
        c.write("220 no line end");
        c.readUntilClosed();
      }),
  BARE_LF("reply lines ending in bare LF", ScriptedSmtpServer.dialogue(a -> "250 2.1.5 Ok\n")),
  MISMATCHED_MULTILINE(
      "multi-line reply with mismatched codes",
      ScriptedSmtpServer.dialogue(a -> "250-fine\r\n550 not fine\r\n")),
  ENDLESS_MULTILINE(
      "endless multi-line reply",
      c -> {
        c.write("220 endless.test\r\n");
        c.readLine();
        for (int i = 0; i < 1_000_000; i++) {
          c.write("250-and more\r\n");
        }
      }),
  HUGE_LINE(
      "10 MB single reply line",
      c -> {
        c.write("220 ");
        byte[] chunk = new byte[64 * 1024];
        Arrays.fill(chunk, (byte) 'x');
        for (int i = 0; i < 160; i++) {
          c.write(chunk);
        }
        c.write("\r\n");
      }),
  CATCH_ALL(
      "accepts every recipient (catch-all)", ScriptedSmtpServer.dialogue(a -> "250 2.1.5 Ok\r\n")),
  TEMPFAIL_ALL(
      "tempfails every recipient",
      ScriptedSmtpServer.dialogue(a -> "451 4.3.0 Try again later\r\n"));

  private final String description;
  private final ScriptedSmtpServer.Script script;

  BackendFault(String description, ScriptedSmtpServer.Script script) {
    this.description = description;
    this.script = script;
  }

  public String description() {
    return description;
  }

  public ScriptedSmtpServer.Script script() {
    return script;
  }

  private static void slowDrip(ScriptedSmtpServer.Connection c)
      throws IOException, InterruptedException {
    c.write("220 drip.test\r\n");
    for (String line = c.readLine(); line != null; line = c.readLine()) {
      String reply = line.startsWith("EHLO") ? "250 drip.test\r\n" : "250 2.1.5 Ok\r\n";
      for (byte b : reply.getBytes(StandardCharsets.US_ASCII)) {
        c.write(new byte[] {b});
        Thread.sleep(1000);
      }
    }
  }
}
