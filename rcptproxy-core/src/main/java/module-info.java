/**
 * rcptproxy's verifier: {@link io.github.rcptproxy.RecipientVerifier} and what it answers, and
 * {@code io.github.rcptproxy.policy}, what a front tells its client for a verdict. Everything under
 * {@code io.github.rcptproxy.internal} is the implementation: the engine is not exported at all,
 * and the SMTP client plumbing only to rcptproxy's own modules.
 */
@SuppressWarnings("module") // the modules named below are rcptproxy's own, built after this one
module io.github.rcptproxy {
  requires org.apache.commons.pool2;
  requires org.slf4j;

  exports io.github.rcptproxy;
  exports io.github.rcptproxy.policy;
  exports io.github.rcptproxy.internal.smtp to
      io.github.rcptproxy.gateway,
      io.github.rcptproxy.cli,
      io.github.rcptproxy.postfix,
      io.github.rcptproxy.benchmarks;
}
