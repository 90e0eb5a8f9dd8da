package io.github.rcptproxy.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.BackendReply;
import io.github.rcptproxy.VerifierConfig;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * What a session may still take, and what the backend's behaviour teaches its limits: counted from
 * replies and timed on a test's ticker. No sockets, no waiting.
 */
class LimitLearnerTest {
  private static final Instant START = Instant.parse("2026-01-01T00:00:00Z");
  private static final long THROTTLED = SessionLimits.THROTTLED.toNanos();

  private long nanos;
  private SessionLimits limits;

  /** A fresh session's learner, with the limits of the configuration. */
  private LimitLearner learner(VerifierConfig.Builder config) {
    VerifierConfig built = config.build();
    limits = new SessionLimits(built);
    return new LimitLearner(limits, built.maxSessionAge(), built.idleTimeout(), () -> nanos, START);
  }

  private LimitLearner learner() {
    return learner(VerifierConfig.builder());
  }

  private static List<BackendReply> replies(int... codes) {
    List<BackendReply> replies = new ArrayList<>();
    for (int code : codes) {
      replies.add(new BackendReply(code, "", ""));
    }
    return replies;
  }

  @Test
  void everyRefusalButA421CountsTowardsTheRejectionLimit() {
    LimitLearner session = learner(VerifierConfig.builder().maxRejectionsPerSession(3));

    session.counted(replies(550, 450, 421, 250), false, false);
    assertThat(session.withinLimits(START)).isTrue();
    session.counted(replies(550), false, false);

    assertThat(session.withinLimits(START)).isFalse();
  }

  /** A session of the same backend, sharing its limits. */
  private LimitLearner sibling() {
    VerifierConfig built = VerifierConfig.builder().build();
    return new LimitLearner(limits, built.maxSessionAge(), built.idleTimeout(), () -> nanos, START);
  }

  /** A session whose first refusal the backend follows with 421 and a hang-up. */
  private static void endedOnItsFirstRefusal(LimitLearner session) {
    session.startUse(START);
    session.counted(replies(250, 550, 421), false, true);
    session.sessionEnded();
  }

  @Test
  void sessionsInARowEndedOnTheirFirstRefusalShowABackendThatTakesNone() {
    learner();
    endedOnItsFirstRefusal(sibling());
    endedOnItsFirstRefusal(sibling());
    assertThat(limits.endsSessionsOnFirstRefusal()).isFalse();

    endedOnItsFirstRefusal(sibling());

    assertThat(limits.endsSessionsOnFirstRefusal()).isTrue();
    assertThat(limits.maxRejections()).isEqualTo(1);
  }

  @Test
  void anAnswerAfterARefusalBreaksTheRun() {
    learner();
    endedOnItsFirstRefusal(sibling());
    endedOnItsFirstRefusal(sibling());
    LimitLearner tolerant = sibling();
    tolerant.startUse(START);
    tolerant.counted(replies(550, 250, 550, 421), false, true); // a limit of two
    tolerant.sessionEnded();
    LimitLearner nonmail = sibling();
    nonmail.startUse(START);
    nonmail.counted(replies(550), false, false);
    nonmail.answeredAfterRejection(); // RSET answered 554 Too many nonmail commands
    nonmail.sessionEnded();

    endedOnItsFirstRefusal(sibling());

    assertThat(limits.endsSessionsOnFirstRefusal()).isFalse();
  }

  @Test
  void vrfyAndRsetCountTowardsTheJunkCommandLimit() {
    LimitLearner session = learner(VerifierConfig.builder().maxVrfyPerSession(3));

    session.counted(replies(252, 550), true, false);
    assertThat(session.withinLimits(START)).isTrue();
    session.rcptExchange(true, true); // RSET

    assertThat(session.withinLimits(START)).isFalse();
  }

  @Test
  void capacityIsTheRejectionBudgetLeftAndATransactionLessTheControlQuestionsPlace() {
    LimitLearner session =
        learner(VerifierConfig.builder().maxRejectionsPerSession(8).maxRecipientsPerTransaction(5));

    assertThat(session.capacity()).isEqualTo(4);
    session.counted(replies(550, 550, 550, 550, 550, 550), false, false);
    assertThat(session.capacity()).isEqualTo(2);
    session.counted(replies(550, 550, 550), false, false);
    assertThat(session.capacity()).as("never less than one").isEqualTo(1);
  }

  @Test
  void aTransactionIsFullWhenTheRecipientsAndAControlQuestionWouldPassItsLimit() {
    LimitLearner session = learner(VerifierConfig.builder().maxRecipientsPerTransaction(5));

    session.counted(replies(250, 550), false, false);
    assertThat(session.transactionFull(2)).isFalse();
    assertThat(session.transactionFull(3)).isTrue();

    session.transactionReset();
    assertThat(session.transactionFull(4)).isFalse();
  }

  @Test
  void tooManyRecipientsTeachesTheRecipientLimit() {
    LimitLearner session = learner();

    session.counted(
        List.of(
            new BackendReply(250, "2.1.5", "Ok"),
            new BackendReply(250, "2.1.5", "Ok"),
            new BackendReply(452, "4.5.3", "Error: too many recipients")),
        false,
        false);

    assertThat(limits.maxRecipients()).isEqualTo(2);
  }

  @Test
  void aSessionEndedAfterAnEarlierUseTeachesTheRejectionsItHadTaken() {
    LimitLearner session = learner();
    session.startUse(START);
    session.counted(replies(550, 550, 550), false, false);
    session.startUse(START);
    session.counted(replies(550), false, false);

    session.sessionEnded();

    assertThat(limits.maxRejections()).isEqualTo(3);
  }

  @Test
  void aSessionEndedOnItsFirstUseTeachesNothing() {
    LimitLearner session = learner();
    session.startUse(START);
    session.counted(replies(550, 550, 550), false, false);

    session.sessionEnded();

    assertThat(limits.maxRejections()).isEqualTo(8);
  }

  @Test
  void aHangUpInAFirstBatchTeachesTheRejectionsBeforeItsLastReplyLessOne() {
    LimitLearner session = learner();
    session.startUse(START);
    // Exim's drop after 3 failed recipients: the fourth is answered, then the connection closed
    session.counted(replies(550, 550, 550, 550), false, true);

    session.sessionEnded();

    assertThat(limits.maxRejections()).isEqualTo(2);
  }

  @Test
  void aSessionEndedAfterLyingIdleTeachesNothing() {
    LimitLearner session = learner();
    session.startUse(START);
    session.counted(replies(550, 550, 550), false, false);
    session.idleFrom(START);
    session.startUse(START.plus(LimitLearner.IDLE_RACE));

    session.sessionEnded(); // the backend's idle 421 crossed our command

    assertThat(limits.maxRejections()).isEqualTo(8);
  }

  @Test
  void moreVrfyAfterEarlierOnesTeachesTheVrfyLimitNotTheRejectionLimit() {
    LimitLearner session = learner();
    session.startUse(START);
    session.counted(replies(252, 550, 252, 550, 252), true, false);
    session.startUse(START);
    session.counted(replies(554), true, true);

    session.sessionEnded();

    assertThat(limits.maxVrfy()).isEqualTo(4); // room for a control VRFY after the question
    assertThat(limits.maxRejections()).isEqualTo(8);
  }

  @Test
  void aSlowAnswerAfterRejectionsIsThrottlingAndTeachesTheRejectionLimit() {
    LimitLearner session = learner();
    session.counted(replies(550, 550), true, false);

    LimitLearner.Exchange exchange = session.vrfyExchange();
    nanos += THROTTLED;
    session.counted(replies(550), true, false);

    assertThat(session.throttled(exchange)).isTrue();
    assertThat(limits.maxRejections()).isEqualTo(2);
  }

  @Test
  void aSlowAnswerWithoutEarlierRejectionsIsNotThrottling() {
    LimitLearner session = learner();

    LimitLearner.Exchange exchange = session.vrfyExchange();
    nanos += 2 * THROTTLED;
    session.counted(replies(252), true, false);

    assertThat(session.throttled(exchange)).isFalse();
  }

  @Test
  void theTransactionsFirstAcceptedRecipientMayWaitForInflowControlUntilTwiceAsSlow() {
    LimitLearner session = learner();
    session.counted(replies(250, 550), false, false); // MAIL's transaction, then refusals
    session.transactionReset();

    LimitLearner.Exchange opening = session.rcptExchange(true, true);
    nanos += THROTTLED;
    session.counted(replies(250), false, false);
    assertThat(session.throttled(opening)).as("a queue file opened: inflow control").isFalse();

    LimitLearner.Exchange later = session.rcptExchange(false, false);
    nanos += THROTTLED;
    session.counted(replies(250), false, false);
    assertThat(session.throttled(later)).as("the queue file was open already").isTrue();
    assertThat(limits.maxRejections()).isEqualTo(1);
  }

  @Test
  void aResetTransactionAnsweredTwiceAsLateTeachesTheJunkCommandLimit() {
    LimitLearner session = learner();
    session.counted(replies(252, 252, 252, 252), true, false);

    LimitLearner.Exchange reset = session.rcptExchange(true, true);
    nanos += 2 * THROTTLED;
    session.counted(replies(250), false, false);

    assertThat(session.throttled(reset)).isTrue();
    assertThat(limits.maxVrfy()).isEqualTo(4);
  }

  @Test
  void aSessionEndsAtItsMaximumAgeAndItsIdleTimeout() {
    LimitLearner session =
        learner(
            VerifierConfig.builder()
                .maxSessionAge(Duration.ofMinutes(30))
                .idleTimeout(Duration.ofMinutes(5)));

    assertThat(session.withinLimits(START.plus(Duration.ofMinutes(4)))).isTrue();
    assertThat(session.withinLimits(START.plus(Duration.ofMinutes(5)))).isFalse();
    for (int minute = 4; minute < 30; minute += 4) {
      session.idleFrom(START.plus(Duration.ofMinutes(minute)));
      assertThat(session.withinLimits(START.plus(Duration.ofMinutes(minute + 1)))).isTrue();
    }
    session.idleFrom(START.plus(Duration.ofMinutes(29)));
    assertThat(session.withinLimits(START.plus(Duration.ofMinutes(30)))).isFalse();
  }
}
