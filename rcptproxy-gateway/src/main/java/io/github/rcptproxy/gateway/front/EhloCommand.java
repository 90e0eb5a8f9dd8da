package io.github.rcptproxy.gateway.front;

import java.io.IOException;
import org.subethamail.smtp.internal.server.BaseCommand;
import org.subethamail.smtp.server.Session;

/**
 * EHLO in place of SubEthaSMTP's, which still offers STARTTLS once TLS is active (RFC 3207 §4.2: a
 * server MUST NOT return it then). The gateway offers no AUTH, so none is listed.
 */
public final class EhloCommand extends BaseCommand {
  EhloCommand() {
    super("EHLO", "Introduce yourself.", "<hostname>");
  }

  @Override
  public void execute(String line, Session session) throws IOException {
    String[] args = getArgs(line);
    if (args.length < 2) {
      session.sendResponse("501 Syntax: EHLO hostname");
      return;
    }
    session.resetMailTransaction();
    session.setHelo(args[1]);
    StringBuilder reply = new StringBuilder("250-").append(session.getServer().getHostName());
    reply.append("\r\n250-8BITMIME");
    int maxSize = session.getServer().getMaxMessageSize();
    if (maxSize > 0) {
      reply.append("\r\n250-SIZE ").append(maxSize);
    }
    if (session.getServer().getEnableTLS()
        && !session.getServer().getHideTLS()
        && !session.isTLSStarted()) {
      reply.append("\r\n250-STARTTLS");
    }
    reply.append("\r\n250-CHUNKING");
    reply.append("\r\n250-SMTPUTF8");
    reply.append("\r\n250 Ok");
    session.sendResponse(reply.toString());
  }
}
