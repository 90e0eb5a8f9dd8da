package io.github.rcptproxy.benchmarks;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * CPU time from Linux's {@code /proc}, in clock ticks (USER_HZ, 100 a second on Linux): what a way
 * of answering costs the whole machine, not just the process it measures in.
 */
final class CpuTicks {
  /** Linux's USER_HZ, fixed at 100 for user space whatever the kernel's own tick. */
  static final double TICKS_PER_SECOND = 100;

  private CpuTicks() {}

  /**
   * Busy ticks of every CPU since boot: the {@code cpu} line of /proc/stat without idle, iowait.
   */
  static long machine() {
    String[] f = read(Path.of("/proc/stat")).lines().findFirst().orElseThrow().trim().split("\\s+");
    long busy = 0;
    for (int i = 1; i < f.length && i <= 8; i++) {
      if (i != 4 && i != 5) { // idle, iowait
        busy += Long.parseLong(f[i]);
      }
    }
    return busy;
  }

  /** Context switches of every CPU since boot: the {@code ctxt} line of /proc/stat. */
  static long contextSwitches() {
    return read(Path.of("/proc/stat"))
        .lines()
        .filter(line -> line.startsWith("ctxt "))
        .mapToLong(line -> Long.parseLong(line.substring(5).trim()))
        .findFirst()
        .orElseThrow();
  }

  /** User and system ticks of one process (fields 14 and 15 of /proc/PID/stat). */
  static long process(long pid) {
    String[] f = fields(pid);
    if (f == null) {
      throw new UncheckedIOException(new IOException("no process " + pid));
    }
    return userAndSystem(f);
  }

  /** User and system ticks of a process's threads whose names start with one of {@code names}. */
  static long threads(long pid, String... names) {
    long ticks = 0;
    try (var tasks = Files.list(Path.of("/proc", Long.toString(pid), "task"))) {
      for (Path task : (Iterable<Path>) tasks::iterator) {
        String stat = read(task.resolve("stat"));
        String name = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        if (java.util.Arrays.stream(names).anyMatch(name::startsWith)) {
          ticks += userAndSystem(afterName(stat));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return ticks;
  }

  /**
   * Ticks of a JVM's JIT compiler threads (HotSpot's {@code C1 CompilerThreadN}, {@code C2
   * CompilerThreadN}, names cut to 15 characters): unchanged over a pass, the JVM is warm.
   */
  static long compilers(long pid) {
    return threads(pid, "C1 CompilerThre", "C2 CompilerThre");
  }

  /**
   * A Postfix instance's ticks: its master's own and those of its children that exited, and the
   * live children's ({@code smtpd}, {@code verify}, ...). A child that exits between two readings
   * moves its ticks to the master's count, so differences stay right.
   */
  static long postfix(Path queueDirectory) {
    long master = Long.parseLong(read(queueDirectory.resolve("pid/master.pid")).trim());
    String[] own = fields(master);
    long ticks = 0;
    for (int i = 11; i <= 14; i++) { // utime, stime, cutime, cstime
      ticks += Long.parseLong(own[i]);
    }
    try (var procs = Files.list(Path.of("/proc"))) {
      for (Path proc : (Iterable<Path>) procs::iterator) {
        String name = proc.getFileName().toString();
        if (name.chars().allMatch(Character::isDigit)) {
          String[] f = fields(Long.parseLong(name));
          if (f != null && Long.parseLong(f[1]) == master) {
            ticks += userAndSystem(f);
          }
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return ticks;
  }

  /** The fields of /proc/PID/stat after the command name (state first), null if it is gone. */
  private static String[] fields(long pid) {
    try {
      return afterName(Files.readString(Path.of("/proc", Long.toString(pid), "stat")));
    } catch (IOException e) {
      return null;
    }
  }

  /** A stat line's fields after the command name (which may hold spaces), state first. */
  private static String[] afterName(String stat) {
    return stat.substring(stat.lastIndexOf(')') + 2).split(" ");
  }

  /** utime and stime: fields 14 and 15 of a stat line, counted from 3 after the name. */
  private static long userAndSystem(String[] f) {
    return Long.parseLong(f[11]) + Long.parseLong(f[12]);
  }

  /** Ticks per operation as microseconds of CPU. */
  static String perOperation(long ticks, int operations) {
    return String.format("%.0f µs", ticks / TICKS_PER_SECOND * 1e6 / operations);
  }

  private static String read(Path path) {
    try {
      return Files.readString(path);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
