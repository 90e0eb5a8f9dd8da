package io.github.rcptproxy.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.stream.Collectors;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSocket;

/**
 * A client of the gateway from a chosen loopback address (127.0.0.2 is another client than
 * 127.0.0.1 on Linux), that can send raw bytes and half-close its side as a truncating client does.
 */
public final class EdgeClient implements AutoCloseable {
  private Socket socket;
  private BufferedReader in;
  private OutputStream out;

  private EdgeClient(Socket socket) throws IOException {
    use(socket);
  }

  private void use(Socket socket) throws IOException {
    this.socket = socket;
    socket.setSoTimeout(10_000);
    this.in =
        new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
    this.out = socket.getOutputStream();
  }

  /** After the gateway's {@code 220} to STARTTLS: the handshake; what follows goes encrypted. */
  public SSLSession startTls(SSLContext context) throws IOException {
    SSLSocket tls =
        (SSLSocket)
            context
                .getSocketFactory()
                .createSocket(socket, "mx.example.com", socket.getPort(), true);
    tls.startHandshake();
    use(tls);
    return tls.getSession();
  }

  /** Connects from {@code from} and reads the greeting, which is returned by {@link #greeting}. */
  public static EdgeClient connect(String from, int port) throws IOException {
    Socket socket = new Socket();
    socket.bind(new InetSocketAddress(InetAddress.getByName(from), 0));
    socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 5000);
    return new EdgeClient(socket);
  }

  public static EdgeClient connect(int port) throws IOException {
    return connect("127.0.0.1", port);
  }

  /** The last line of the next reply; null if the gateway hung up. */
  public String reply() throws IOException {
    String line;
    do {
      line = in.readLine();
    } while (line != null && line.length() > 3 && line.charAt(3) == '-');
    return line;
  }

  /** Sends a command line and returns every line of its reply, joined with newlines. */
  public String sendForAllLines(String command) throws IOException {
    raw(command + "\r\n");
    StringBuilder reply = new StringBuilder();
    String line;
    do {
      line = in.readLine();
      if (line != null) {
        reply.append(reply.isEmpty() ? "" : "\n").append(line);
      }
    } while (line != null && line.length() > 3 && line.charAt(3) == '-');
    return reply.toString();
  }

  /** Sends a command line and returns the last line of its reply. */
  public String send(String command) throws IOException {
    raw(command + "\r\n");
    return reply();
  }

  public void raw(String text) throws IOException {
    raw(text.getBytes(StandardCharsets.UTF_8));
  }

  public void raw(byte[] bytes) throws IOException {
    out.write(bytes);
    out.flush();
  }

  /** Ends the client's side, as a client cut off mid-message does; replies can still come. */
  public void halfClose() throws IOException {
    socket.shutdownOutput();
  }

  /** Every line the gateway still sends until it hangs up, joined with newlines. */
  public String rest() {
    return in.lines().collect(Collectors.joining("\n"));
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
