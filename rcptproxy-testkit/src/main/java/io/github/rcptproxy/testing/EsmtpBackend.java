package io.github.rcptproxy.testing;

import java.util.Locale;

/**
 * A scripted backend as Postfix presents itself (8BITMIME, SMTPUTF8, ENHANCEDSTATUSCODES), with one
 * step answered otherwise: for the faults a real Postfix cannot be made to show. Accepts every
 * recipient.
 *
 * @param greeting the first reply
 * @param mail the answer to MAIL
 * @param endOfData the answer to the final dot
 * @param after what the backend does once it answered the final dot
 */
public record EsmtpBackend(String greeting, String mail, String endOfData, After after) {
  public enum After {
    CONTINUE,
    HANG_UP,
    IGNORE_EVERYTHING
  }

  public static EsmtpBackend wellBehaved() {
    return new EsmtpBackend(
        "220 backend.test ESMTP", "250 2.1.0 Ok", "250 2.0.0 Ok: queued as 4F2X", After.CONTINUE);
  }

  public EsmtpBackend withGreeting(String reply) {
    return new EsmtpBackend(reply, mail, endOfData, after);
  }

  public EsmtpBackend withMail(String reply) {
    return new EsmtpBackend(greeting, reply, endOfData, after);
  }

  public EsmtpBackend withEndOfData(String reply) {
    return new EsmtpBackend(greeting, mail, reply, after);
  }

  public EsmtpBackend then(After next) {
    return new EsmtpBackend(greeting, mail, endOfData, next);
  }

  public ScriptedSmtpServer start() {
    return ScriptedSmtpServer.start(
        connection -> {
          connection.write(greeting + "\r\n");
          for (String line = connection.readLine(); line != null; line = connection.readLine()) {
            String upper = line.toUpperCase(Locale.ROOT);
            if (upper.startsWith("EHLO")) {
              connection.write(
                  "250-backend.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
                      + "250 ENHANCEDSTATUSCODES\r\n");
            } else if (upper.startsWith("MAIL")) {
              connection.write(mail + "\r\n");
            } else if (upper.equals("DATA")) {
              connection.write("354 End data with <CR><LF>.<CR><LF>\r\n");
              for (String data = connection.readLine();
                  data != null && !data.equals(".");
                  data = connection.readLine()) {
                // recorded in received()
              }
              connection.write(endOfData + "\r\n");
              if (after == After.HANG_UP) {
                return;
              }
              if (after == After.IGNORE_EVERYTHING) {
                connection.readUntilClosed();
                return;
              }
            } else if (upper.equals("QUIT")) {
              connection.write("221 2.0.0 Bye\r\n");
              return;
            } else if (upper.startsWith("RCPT")) {
              connection.write("250 2.1.5 Ok\r\n");
            } else {
              connection.write("250 2.0.0 Ok\r\n");
            }
          }
        });
  }
}
