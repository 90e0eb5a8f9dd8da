package io.github.rcptproxy;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A TCP proxy on a free port in front of a backend that counts the client's command lines starting
 * with a prefix (e.g. {@code "VRFY <rcptproxy-"}: the random local parts), and the chunks the
 * client sent (one per exchange: a pipelined batch is one write), counted before they are passed
 * on, so a verdict returned means its commands are counted.
 */
final class CommandCountingProxy implements AutoCloseable {
  private final ServerSocket server;
  private final int backendPort;
  private final String prefix;
  private final AtomicInteger count = new AtomicInteger();
  private final AtomicInteger chunks = new AtomicInteger();
  private final List<Socket> sockets = new CopyOnWriteArrayList<>();

  CommandCountingProxy(int backendPort, String prefix) throws IOException {
    this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    this.backendPort = backendPort;
    this.prefix = prefix;
    Thread acceptor = new Thread(this::acceptLoop, "counting-proxy");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  int port() {
    return server.getLocalPort();
  }

  int count() {
    return count.get();
  }

  /** The client's reads of the proxy: its writes, or fewer where two came before one read. */
  int chunks() {
    return chunks.get();
  }

  private void acceptLoop() {
    try {
      while (true) {
        Socket client = server.accept();
        Socket backend = new Socket(InetAddress.getLoopbackAddress(), backendPort);
        sockets.add(client);
        sockets.add(backend);
        pipe(backend.getInputStream(), client.getOutputStream(), false);
        pipe(client.getInputStream(), backend.getOutputStream(), true);
      }
    } catch (IOException e) {
      // closed
    }
  }

  private void pipe(InputStream in, OutputStream out, boolean counting) {
    Thread thread =
        new Thread(
            () -> {
              StringBuilder line = new StringBuilder();
              byte[] buffer = new byte[8192];
              try {
                int n;
                while ((n = in.read(buffer)) > 0) {
                  if (counting) {
                    chunks.incrementAndGet();
                    countLines(buffer, n, line);
                  }
                  out.write(buffer, 0, n);
                  out.flush();
                }
              } catch (IOException e) {
                // one side closed
              } finally {
                closeQuietly(out);
              }
            },
            "counting-proxy-pipe");
    thread.setDaemon(true);
    thread.start();
  }

  private void countLines(byte[] buffer, int n, StringBuilder line) {
    for (int i = 0; i < n; i++) {
      if (buffer[i] == '\n') {
        if (line.toString().startsWith(prefix)) {
          count.incrementAndGet();
        }
        line.setLength(0);
      } else {
        line.append((char) (buffer[i] & 0xff));
      }
    }
  }

  private static void closeQuietly(OutputStream out) {
    try {
      out.close();
    } catch (IOException e) {
      // already closed
    }
  }

  @Override
  public void close() throws IOException {
    server.close();
    for (Socket socket : sockets) {
      socket.close();
    }
  }
}
