package io.github.rcptproxy.internal;

import io.github.rcptproxy.Verdict;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The verdicts of one batch, in the order of its addresses: each slot is pending until a verdict is
 * put in it. A slot still pending when {@link Backend#verifyAll} returns was left for the next
 * configuration's backend: a reconfiguration closed this one before the question was answered
 * (never put, or to be asked again after its session failed). Not thread-safe: each thread
 * answering a batch fills its own, and the batch run merges them.
 */
public final class VerdictSlots {
  /** The verdicts; a pending slot is null here, and nowhere else. */
  private final Verdict[] verdicts;

  public VerdictSlots(int size) {
    this.verdicts = new Verdict[size];
  }

  public int size() {
    return verdicts.length;
  }

  public boolean isPending(int index) {
    return verdicts[index] == null;
  }

  /**
   * The verdict in the slot.
   *
   * @throws IllegalStateException if the slot is still pending
   */
  public Verdict get(int index) {
    if (isPending(index)) {
      throw new IllegalStateException("slot " + index + " is still pending");
    }
    return verdicts[index];
  }

  public void settle(int index, Verdict verdict) {
    verdicts[index] = Objects.requireNonNull(verdict, "verdict");
  }

  /** Puts the verdict in every slot still pending. */
  public void settlePending(Verdict verdict) {
    for (int index : pending()) {
      settle(index, verdict);
    }
  }

  /**
   * Puts the verdicts {@code answers} holds for the slots {@code indices} name, in order: the
   * {@code k}-th of {@code answers} goes into slot {@code indices.get(k)}; one still pending there
   * leaves its slot pending.
   */
  public void settle(List<Integer> indices, VerdictSlots answers) {
    for (int k = 0; k < indices.size(); k++) {
      if (!answers.isPending(k)) {
        settle(indices.get(k), answers.get(k));
      }
    }
  }

  /** The pending slots' indices, in order. */
  public List<Integer> pending() {
    List<Integer> pending = new ArrayList<>();
    for (int i = 0; i < verdicts.length; i++) {
      if (isPending(i)) {
        pending.add(i);
      }
    }
    return pending;
  }

  /** Takes every verdict another thread's slots of the same batch hold. */
  void takeAnswered(VerdictSlots other) {
    for (int i = 0; i < verdicts.length; i++) {
      if (!other.isPending(i)) {
        verdicts[i] = other.verdicts[i];
      }
    }
  }

  /**
   * The verdicts, in order.
   *
   * @throws IllegalStateException if a slot is still pending
   */
  public List<Verdict> verdicts() {
    List<Verdict> all = new ArrayList<>(verdicts.length);
    for (int i = 0; i < verdicts.length; i++) {
      all.add(get(i));
    }
    return List.copyOf(all);
  }
}
