package io.github.rcptproxy;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class VerdictTest {

  @Test
  void everyReasonSaysWhatKindOfTroubleItIs() {
    assertThat(Verdict.Reason.INVALID_ADDRESS.kind()).isEqualTo(Verdict.Reason.Kind.CALLER);
    assertThat(Verdict.Reason.CATCH_ALL.kind()).isEqualTo(Verdict.Reason.Kind.NO_ANSWER);
    assertThat(Verdict.Reason.BACKEND_REFUSED.kind()).isEqualTo(Verdict.Reason.Kind.CONFIGURATION);
    assertThat(Verdict.Reason.TIMEOUT.kind()).isEqualTo(Verdict.Reason.Kind.TRANSIENT);
    for (Verdict.Reason reason : Verdict.Reason.values()) {
      assertThat(reason.kind()).as(reason.name()).isNotNull();
    }
  }
}
