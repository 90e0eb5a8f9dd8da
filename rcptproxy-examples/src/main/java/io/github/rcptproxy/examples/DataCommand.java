package io.github.rcptproxy.examples;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import org.subethamail.smtp.DropConnectionException;
import org.subethamail.smtp.RejectException;
import org.subethamail.smtp.internal.io.DotTerminatedInputStream;
import org.subethamail.smtp.internal.io.DotUnstuffingInputStream;
import org.subethamail.smtp.internal.server.BaseCommand;
import org.subethamail.smtp.internal.util.SMTPResponseHelper;
import org.subethamail.smtp.server.Session;

/**
 * DATA in place of SubEthaSMTP's, which keeps the transaction after a refused message: the client's
 * next MAIL got {@code 503}, and its next message went to the old recipients too. RFC 5321
 * §4.1.1.4: after the reply to the end of data, accepted or refused, the transaction is over; here
 * it is cleared either way, as {@link BdatCommand} does. The gateway adds its own {@code Received:}
 * header (see {@link Trace}), so none is added here.
 */
final class DataCommand extends BaseCommand {
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
    InputStream message =
        new DotUnstuffingInputStream(new DotTerminatedInputStream(session.getRawInput()));
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
}
