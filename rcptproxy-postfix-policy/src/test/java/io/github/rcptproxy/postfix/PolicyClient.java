package io.github.rcptproxy.postfix;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;

/** A blocking policy client, as Postfix's: writes a request, reads one answer. */
final class PolicyClient implements AutoCloseable {
  final Socket socket;
  private final InputStream in;
  private final OutputStream out;

  PolicyClient(InetSocketAddress server) throws IOException {
    socket = new Socket();
    socket.connect(server, 5000);
    socket.setSoTimeout(10_000);
    in = socket.getInputStream();
    out = socket.getOutputStream();
  }

  static String rcpt(String recipient, String client) {
    return "request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n"
        + "helo_name=client.example.net\nqueue_id=\nsender=someone@example.net\n"
        + "recipient="
        + recipient
        + "\nrecipient_count=0\nclient_address="
        + client
        + "\nclient_name=unknown\nreverse_client_name=unknown\ninstance=1a2b.3c4d.0\n"
        + "size=0\nccert_subject=\nencryption_protocol=\npolicy_context=\n\n";
  }

  void write(String text) throws IOException {
    write(text.getBytes(StandardCharsets.UTF_8));
  }

  void write(byte[] bytes) throws IOException {
    out.write(bytes);
    out.flush();
  }

  /** The next answer without its empty line, e.g. {@code action=DUNNO}; null at end of input. */
  String answer() throws IOException {
    ByteArrayOutputStream answer = new ByteArrayOutputStream();
    int previous = -1;
    int b;
    while ((b = in.read()) >= 0) {
      if (b == '\n' && previous == '\n') {
        String text = answer.toString(StandardCharsets.US_ASCII);
        return text.substring(0, text.length() - 1);
      }
      answer.write(b);
      previous = b;
    }
    return null;
  }

  String ask(String request) throws IOException {
    write(request);
    return answer();
  }

  /** Whether the server closed the connection: end of input or a reset, before the timeout. */
  boolean closedByServer() throws IOException {
    try {
      while (true) {
        if (in.read() < 0) {
          return true;
        }
      }
    } catch (SocketTimeoutException e) {
      return false;
    } catch (IOException reset) {
      return true;
    }
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
