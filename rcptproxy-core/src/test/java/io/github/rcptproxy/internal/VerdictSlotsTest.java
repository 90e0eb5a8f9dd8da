package io.github.rcptproxy.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.rcptproxy.BackendReply;
import io.github.rcptproxy.Verdict;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** A batch's verdicts: pending until settled, never handed out while one is pending. */
class VerdictSlotsTest {
  private static final Verdict ACCEPTED =
      new Verdict.Accepted(new BackendReply(250, "2.1.5", "Ok"), Duration.ZERO);
  private static final Verdict CLOSED =
      new Verdict.Unverified(
          Verdict.Reason.BACKEND_UNAVAILABLE, "verifier closed", Optional.empty(), Duration.ZERO);

  @Test
  void slotsArePendingUntilSettled() {
    VerdictSlots slots = new VerdictSlots(3);

    slots.settle(1, ACCEPTED);

    assertThat(slots.pending()).containsExactly(0, 2);
    assertThat(slots.isPending(1)).isFalse();
    assertThat(slots.get(1)).isSameAs(ACCEPTED);
    assertThatThrownBy(() -> slots.get(0)).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(slots::verdicts).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void anotherBackendsAnswersFillTheSlotsTheyWereAskedFor() {
    VerdictSlots slots = new VerdictSlots(4);
    slots.settle(0, ACCEPTED);
    slots.settle(2, ACCEPTED);
    VerdictSlots again = new VerdictSlots(2);
    again.settle(1, CLOSED);

    slots.settle(slots.pending(), again);

    assertThat(slots.pending()).containsExactly(1);
    assertThat(slots.get(3)).isSameAs(CLOSED);
    slots.settlePending(CLOSED);
    assertThat(slots.verdicts()).containsExactly(ACCEPTED, CLOSED, ACCEPTED, CLOSED);
  }

  @Test
  void aHelpersSlotsAreMergedWithoutOverwritingWithPending() {
    VerdictSlots caller = new VerdictSlots(3);
    caller.settle(0, ACCEPTED);
    VerdictSlots helper = new VerdictSlots(3);
    helper.settle(2, CLOSED);

    caller.takeAnswered(helper);

    assertThat(caller.get(0)).isSameAs(ACCEPTED);
    assertThat(caller.get(2)).isSameAs(CLOSED);
    assertThat(caller.pending()).containsExactly(1);
  }

  @Test
  void aVerdictIsNeverNull() {
    assertThatThrownBy(() -> new VerdictSlots(1).settle(0, null))
        .isInstanceOf(NullPointerException.class);
    assertThat(List.of(new VerdictSlots(0).verdicts())).containsExactly(List.of());
  }
}
