package io.github.rcptproxy.gateway.front;

import io.github.rcptproxy.gateway.ops.Trace;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Objects;
import org.subethamail.smtp.DropConnectionException;
import org.subethamail.smtp.RejectException;
import org.subethamail.smtp.internal.io.DotTerminatedInputStream;
import org.subethamail.smtp.internal.server.BaseCommand;
import org.subethamail.smtp.internal.util.SMTPResponseHelper;
import org.subethamail.smtp.server.Session;

/**
 * DATA in place of SubEthaSMTP's, which keeps the transaction after a refused message: the client's
 * next MAIL got {@code 503}, and its next message went to the old recipients too. RFC 5321
 * §4.1.1.4: after the reply to the end of data, accepted or refused, the transaction is over; here
 * it is cleared either way, as {@link BdatCommand} does. The gateway adds its own {@code Received:}
 * header (see {@link Trace}), so none is added here. SubEthaSMTP's unstuffing also missed the first
 * line: a message starting {@code .x}, sent as {@code ..x}, arrived as {@code ..x}.
 */
public final class DataCommand extends BaseCommand {
  DataCommand() {
    super("DATA", "Following text is collected as the message.\nEnd data with <CR><LF>.<CR><LF>");
  }

  @Override
  public void execute(String line, Session session) throws IOException, DropConnectionException {
    if (!session.isMailTransactionInProgress()) {
      session.sendResponse("503 5.5.1 Error: need MAIL command");
      return;
    }
    if (session.getRecipientCount() == 0) {
      session.sendResponse("503 5.5.1 Error: need RCPT command");
      return;
    }
    session.sendResponse("354 End data with <CR><LF>.<CR><LF>");
    InputStream message = messageStream(session.getRawInput());
    String reply;
    try {
      reply = session.getMessageHandler().data(message);
      // A handler that stopped reading early leaves the rest, which is not commands.
      message.transferTo(OutputStream.nullOutputStream());
    } catch (DropConnectionException e) {
      throw e;
    } catch (RejectException e) {
      // Refused or not, the rest of the message is not commands; the reply follows its end.
      message.transferTo(OutputStream.nullOutputStream());
      session.sendResponse(e.getErrorResponse());
      session.resetMailTransaction();
      return;
    }
    session.sendResponse(reply == null ? "250 Ok" : SMTPResponseHelper.buildResponse("250", reply));
    session.resetMailTransaction();
  }

  /**
   * The message the client sends after {@code 354}: up to its {@code CRLF.CRLF}, unstuffed; the end
   * of input before that is an {@link java.io.EOFException}, never the end of the message.
   */
  private static InputStream messageStream(InputStream client) {
    return new DotUnstuffing(new DotTerminatedInputStream(client));
  }

  /**
   * Removes the dot a client doubled at the start of a line (RFC 5321 §4.5.2), the first one too.
   */
  private static final class DotUnstuffing extends FilterInputStream {
    private boolean lineStart = true;
    private boolean afterCr;

    DotUnstuffing(InputStream in) {
      super(in);
    }

    @Override
    public int read() throws IOException {
      int b = in.read();
      if (lineStart && b == '.') {
        b = in.read();
      }
      lineStart = afterCr && b == '\n';
      afterCr = b == '\r';
      return b;
    }

    @Override
    public int read(byte[] buffer, int offset, int length) throws IOException {
      Objects.checkFromIndexSize(offset, length, buffer.length);
      int n = 0;
      while (n < length) {
        int b = read();
        if (b < 0) {
          return n == 0 ? -1 : n;
        }
        buffer[offset + n++] = (byte) b;
      }
      return n;
    }

    @Override
    public long skip(long n) throws IOException {
      long skipped = 0;
      while (skipped < n && read() >= 0) {
        skipped++;
      }
      return skipped;
    }

    @Override
    public int available() {
      return 0; // what is buffered may be stuffing or the end of data
    }

    @Override
    public boolean markSupported() {
      return false;
    }
  }
}
