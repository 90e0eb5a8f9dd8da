package io.github.rcptproxy.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.ArrayList;
import java.util.List;

/**
 * A loopback port that never answers a connect: a listening socket that is never accepted from, its
 * accept queue filled up, so the kernel drops further SYNs (a black-holed backend, without touching
 * any address outside this machine).
 */
public final class BlackHole implements AutoCloseable {
  private final ServerSocket server;
  private final List<Socket> fillers = new ArrayList<>();

  private BlackHole() throws IOException {
    server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
    for (int i = 0; i < 16; i++) {
      Socket filler = new Socket();
      try {
        filler.connect(server.getLocalSocketAddress(), 200);
        fillers.add(filler);
      } catch (SocketTimeoutException e) {
        filler.close();
        return; // the queue is full: connects now hang
      }
    }
    throw new IllegalStateException("the accept queue never filled up");
  }

  public static BlackHole open() {
    try {
      return new BlackHole();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public int port() {
    return server.getLocalPort();
  }

  public InetSocketAddress address() {
    return InetSocketAddress.createUnresolved("127.0.0.1", port());
  }

  @Override
  public void close() throws IOException {
    for (Socket filler : fillers) {
      filler.close();
    }
    server.close();
  }
}
