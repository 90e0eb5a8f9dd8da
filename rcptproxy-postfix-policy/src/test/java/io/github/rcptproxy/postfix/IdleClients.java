package io.github.rcptproxy.postfix;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;

/**
 * Opens N idle connections to a policy server ({@code HOST PORT N}, or {@code unix PATH N}) and
 * holds them until its standard input ends: run as a child process, so the clients' descriptors do
 * not count against the server JVM's limit.
 */
public final class IdleClients {
  private IdleClients() {}

  public static void main(String[] args) throws IOException {
    SocketAddress server =
        args[0].equals("unix")
            ? UnixDomainSocketAddress.of(args[1])
            : new InetSocketAddress(args[0], Integer.parseInt(args[1]));
    int n = Integer.parseInt(args[2]);
    List<SocketChannel> channels = new ArrayList<>(n);
    try {
      for (int i = 0; i < n; i++) {
        channels.add(SocketChannel.open(server));
      }
      System.out.println("open " + channels.size());
    } catch (IOException e) {
      System.out.println("open " + channels.size() + " (then " + e + ")");
    }
    System.out.flush();
    while (System.in.read() >= 0) {
      // hold the connections until the parent closes our input
    }
    for (SocketChannel channel : channels) {
      channel.close();
    }
  }
}
