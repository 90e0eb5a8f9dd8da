package io.github.rcptproxy.benchmarks;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;

/**
 * One thread serving a loopback port and every connection over non-blocking sockets, many per
 * wake-up: the loop of the benchmarks' hops ({@link ByteRelay}, {@link RcptMultiplexer}), which say
 * what to do with a connection accepted and with a channel that can be read.
 */
abstract class NioLoop implements AutoCloseable {
  final Selector selector;
  private final ServerSocketChannel server;
  private final Thread loop;

  NioLoop(String name) throws IOException {
    selector = Selector.open();
    server = ServerSocketChannel.open();
    server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    server.configureBlocking(false);
    server.register(selector, SelectionKey.OP_ACCEPT);
    loop = new Thread(this::run, name);
    loop.setDaemon(true);
  }

  /** Starts the loop; until then connections wait in the listen queue. */
  final void startLoop() {
    loop.start();
  }

  final int port() {
    return server.socket().getLocalPort();
  }

  /** A client connected: still blocking, with Nagle's algorithm on. */
  abstract void accepted(SocketChannel client) throws IOException;

  /** A registered channel has bytes to read (or its peer closed it). */
  abstract void readable(SelectionKey key) throws IOException;

  /** After each wake-up's channels were served. */
  void served() throws IOException {}

  private void run() {
    try {
      while (selector.isOpen()) {
        selector.select();
        if (!selector.isOpen()) {
          return;
        }
        for (SelectionKey key : selector.selectedKeys()) {
          if (key.isValid() && key.isAcceptable()) {
            SocketChannel client = server.accept();
            if (client != null) {
              accepted(client);
            }
          } else if (key.isValid() && key.isReadable()) {
            readable(key);
          }
        }
        selector.selectedKeys().clear();
        served();
      }
    } catch (IOException e) {
      if (selector.isOpen()) {
        throw new UncheckedIOException(e);
      }
    }
  }

  /**
   * Reads what {@code from} has into {@code buffer}, ready to be taken; false, with {@code from}
   * closed, where its peer closed it or reset it.
   */
  static boolean readOrClose(SocketChannel from, ByteBuffer buffer) throws IOException {
    buffer.clear();
    int read;
    try {
      read = from.read(buffer);
    } catch (IOException reset) {
      read = -1;
    }
    if (read < 0) {
      from.close();
      return false;
    }
    buffer.flip();
    return true;
  }

  /** Writes all of {@code bytes} to a non-blocking channel (SMTP lines: a write seldom waits). */
  static void writeWhole(SocketChannel to, ByteBuffer bytes) throws IOException {
    while (bytes.hasRemaining()) {
      if (to.write(bytes) == 0) {
        Thread.onSpinWait();
      }
    }
  }

  @Override
  public void close() throws IOException {
    selector.close();
    server.close();
  }
}
