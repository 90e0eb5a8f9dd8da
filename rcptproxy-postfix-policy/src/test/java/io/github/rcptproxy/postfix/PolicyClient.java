package io.github.rcptproxy.postfix;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;

/**
 * A blocking policy client, as Postfix's: writes a request, reads one answer; over TCP or a UNIX
 * socket, each read bounded by 10 s.
 */
final class PolicyClient implements AutoCloseable {
  private static final long TIMEOUT_MS = 10_000;
  final SocketChannel channel;
  private final Selector selector;
  private final ByteBuffer in = ByteBuffer.allocate(8192).flip();

  PolicyClient(SocketAddress server) throws IOException {
    this(server, null);
  }

  /** A client connecting from {@code from} (a loopback address other than 127.0.0.1, say). */
  PolicyClient(SocketAddress server, java.net.InetAddress from) throws IOException {
    channel =
        SocketChannel.open(
            server instanceof InetSocketAddress
                ? java.net.StandardProtocolFamily.INET
                : java.net.StandardProtocolFamily.UNIX);
    if (from != null) {
      channel.bind(new InetSocketAddress(from, 0));
    }
    channel.connect(server);
    channel.configureBlocking(false);
    selector = Selector.open();
  }

  /** The client's own address (TCP only). */
  InetSocketAddress localAddress() throws IOException {
    return (InetSocketAddress) channel.getLocalAddress();
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
    ByteBuffer out = ByteBuffer.wrap(bytes);
    while (out.hasRemaining()) {
      if (channel.write(out) == 0) {
        await(SelectionKey.OP_WRITE);
      }
    }
  }

  /** The next byte, -1 at end of input; throws SocketTimeoutException after 10 s without one. */
  private int read() throws IOException {
    while (!in.hasRemaining()) {
      in.clear();
      int n = channel.read(in);
      in.flip();
      if (n < 0) {
        return -1;
      }
      if (n == 0) {
        await(SelectionKey.OP_READ);
      }
    }
    return in.get() & 0xff;
  }

  private void await(int op) throws IOException {
    SelectionKey key = channel.register(selector, op);
    int ready = selector.select(TIMEOUT_MS);
    key.interestOps(0);
    selector.selectedKeys().clear();
    if (ready == 0) {
      throw new SocketTimeoutException("nothing for " + TIMEOUT_MS + " ms");
    }
  }

  /** The next answer without its empty line, e.g. {@code action=DUNNO}; null at end of input. */
  String answer() throws IOException {
    ByteArrayOutputStream answer = new ByteArrayOutputStream();
    int previous = -1;
    int b;
    while ((b = read()) >= 0) {
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
        if (read() < 0) {
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
    selector.close();
    channel.close();
  }
}
