package io.github.rcptproxy.testing;

import java.util.Map;
import java.util.TreeMap;

/**
 * What a run of verifications at 50 % unknown came to: {@code known(i)} for even {@code i}, {@code
 * unknown(i)} for odd. A wrong rejection (a real mailbox refused) is the one outcome that loses
 * mail.
 */
public final class VerdictTally {
  private int knownAccepted;
  private int wrongRejections;
  private int unknownRejected;
  private int unknownAccepted;
  private final Map<String, Integer> other = new TreeMap<>();

  /** Whether the {@code i}-th address of a run is a real mailbox. */
  public static boolean isKnown(int i) {
    return i % 2 == 0;
  }

  /**
   * Counts one outcome.
   *
   * @param outcome {@code ACCEPTED}, {@code REJECTED}, or anything else (an unverified reason, a
   *     reply code), counted as it is
   */
  public void add(boolean known, String outcome) {
    if (known && outcome.equals("ACCEPTED")) {
      knownAccepted++;
    } else if (known && outcome.equals("REJECTED")) {
      wrongRejections++;
    } else if (!known && outcome.equals("REJECTED")) {
      unknownRejected++;
    } else if (!known && outcome.equals("ACCEPTED")) {
      unknownAccepted++;
    } else {
      other.merge((known ? "known " : "unknown ") + outcome, 1, Integer::sum);
    }
  }

  public int wrongRejections() {
    return wrongRejections;
  }

  public int knownAccepted() {
    return knownAccepted;
  }

  public int unknownRejected() {
    return unknownRejected;
  }

  public int unknownAccepted() {
    return unknownAccepted;
  }

  /** Outcomes that were neither accepted nor rejected, by kind. */
  public Map<String, Integer> other() {
    return other;
  }

  @Override
  public String toString() {
    return "known accepted "
        + knownAccepted
        + ", known REJECTED (wrong) "
        + wrongRejections
        + ", unknown rejected "
        + unknownRejected
        + ", unknown accepted "
        + unknownAccepted
        + ", other "
        + other;
  }
}
