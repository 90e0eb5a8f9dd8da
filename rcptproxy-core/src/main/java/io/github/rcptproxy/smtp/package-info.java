/**
 * The SMTP plumbing rcptproxy's own modules share: one strict reply reader ({@link
 * io.github.rcptproxy.smtp.SmtpReplyReader}, its {@link io.github.rcptproxy.smtp.SmtpReply} and
 * {@link io.github.rcptproxy.smtp.MalformedReplyException}), one sanitiser for text from outside
 * ({@link io.github.rcptproxy.smtp.SmtpText}) and one client STARTTLS handshake ({@link
 * io.github.rcptproxy.smtp.ClientTls}). The verifier, the gateway's relay and probe, and the
 * benchmarks all use these; they are public for those modules, not as a general SMTP library.
 */
package io.github.rcptproxy.smtp;
