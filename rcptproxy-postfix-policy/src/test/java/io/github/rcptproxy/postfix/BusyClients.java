package io.github.rcptproxy.postfix;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Holds N connections per source address ({@code HOST PORT N SOURCE[,SOURCE...]}) that are never
 * between requests: each sends half a request, and every {@code TICK_MILLIS} ends it and begins the
 * next in one write, so the server always sees a request under way. An evicted connection comes
 * back at the next tick. Prints {@code open N}, then {@code ticked} after each tick; ends when its
 * standard input ends. A child process, so its descriptors do not count against the server JVM's.
 */
public final class BusyClients {
  static final long TICK_MILLIS = 3000;
  private static final byte[] START =
      "request=smtpd_access_policy\nprotocol_state=DATA\n".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] TICK =
      "\nrequest=smtpd_access_policy\nprotocol_state=DATA\n".getBytes(StandardCharsets.US_ASCII);

  private BusyClients() {}

  public static void main(String[] args) throws Exception {
    InetSocketAddress server = new InetSocketAddress(args[0], Integer.parseInt(args[1]));
    int n = Integer.parseInt(args[2]);
    String[] sources = args[3].split(",");
    Thread parentGone =
        new Thread(
            () -> {
              try {
                while (System.in.read() >= 0) {
                  // until the parent closes our input
                }
              } catch (IOException e) {
                // the parent is gone all the same
              }
              System.exit(0);
            });
    parentGone.setDaemon(true);
    parentGone.start();
    List<SocketChannel> channels = new ArrayList<>();
    for (String source : sources) {
      for (int i = 0; i < n; i++) {
        channels.add(open(source, server));
      }
    }
    System.out.println("open " + channels.size());
    System.out.flush();
    while (true) {
      Thread.sleep(TICK_MILLIS); // the attack's own pace, not a wait for the server
      for (int i = 0; i < channels.size(); i++) {
        try {
          channels.get(i).write(ByteBuffer.wrap(TICK));
        } catch (IOException evicted) {
          channels.get(i).close();
          channels.set(i, open(sources[i / n], server));
        }
      }
      System.out.println("ticked");
      System.out.flush();
    }
  }

  private static SocketChannel open(String source, InetSocketAddress server) throws IOException {
    SocketChannel channel = SocketChannel.open();
    channel.bind(new InetSocketAddress(source, 0));
    channel.connect(server);
    channel.write(ByteBuffer.wrap(START));
    return channel;
  }
}
