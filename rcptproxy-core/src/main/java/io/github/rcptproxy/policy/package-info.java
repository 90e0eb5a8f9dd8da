/**
 * What an SMTP front tells its client about a recipient, independent of the SMTP server it runs in:
 * the {@link io.github.rcptproxy.policy.ReplyPolicy} (rejection code and text, what to do when the
 * backend cannot answer, clients that skip verification), the {@link
 * io.github.rcptproxy.policy.RecipientDecision} it makes from a {@link
 * io.github.rcptproxy.Verdict}, client {@link io.github.rcptproxy.policy.AddressRange}s and the
 * {@link io.github.rcptproxy.policy.DomainTable} that picks a route per recipient domain. Shared by
 * the SubEthaSMTP adapter and the Postfix policy server, which only render the decision in their
 * own protocol.
 */
package io.github.rcptproxy.policy;
