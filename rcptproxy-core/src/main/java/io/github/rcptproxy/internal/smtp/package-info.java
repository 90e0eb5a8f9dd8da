/**
 * The SMTP plumbing rcptproxy's own modules share: one client connection ({@link
 * io.github.rcptproxy.internal.smtp.SmtpConnection}: greeting, hello, STARTTLS and AUTH, commands
 * and replies, pipelined or not; refusals at its start are a {@link
 * io.github.rcptproxy.internal.smtp.SessionRefusedException}), one strict reply reader ({@link
 * io.github.rcptproxy.internal.smtp.SmtpReplyReader}, its {@link
 * io.github.rcptproxy.internal.smtp.SmtpReply} and {@link
 * io.github.rcptproxy.internal.smtp.MalformedReplyException}), one sanitiser for text from outside
 * ({@link io.github.rcptproxy.internal.smtp.SmtpText}), one client STARTTLS handshake ({@link
 * io.github.rcptproxy.internal.smtp.ClientTls}) and one client STARTTLS and AUTH exchange ({@link
 * io.github.rcptproxy.internal.smtp.ClientSecurity}, failing with a {@link
 * io.github.rcptproxy.internal.smtp.ClientSecurityException}). The verifier, the gateway's relay,
 * {@code rcptproxy probe} and the benchmarks all speak to a server through {@code SmtpConnection};
 * these types are public for those modules, not as a general SMTP library.
 */
package io.github.rcptproxy.internal.smtp;
