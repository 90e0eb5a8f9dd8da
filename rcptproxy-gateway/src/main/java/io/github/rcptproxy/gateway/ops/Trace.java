package io.github.rcptproxy.gateway.ops;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Who sent a message, as the gateway saw it: the source of its {@code Received:} header (RFC 5321
 * §4.4) and of the {@code XFORWARD} attributes that let the backend log the real client.
 *
 * @param address the client's IP address
 * @param helo what the client said in HELO or EHLO, if anything
 * @param esmtp whether it said EHLO
 * @param tls the TLS protocol and cipher suite, when STARTTLS was used
 * @param smtputf8 whether the message was declared SMTPUTF8
 * @param id the gateway's id of this message, for its logs
 * @param gatewayName the gateway's host name
 */
public record Trace(
    InetAddress address,
    Optional<String> helo,
    boolean esmtp,
    Optional<Tls> tls,
    boolean smtputf8,
    String id,
    String gatewayName) {

  /** The negotiated TLS protocol ({@code TLSv1.3}) and cipher suite. */
  public record Tls(String protocol, String cipher) {}

  /** An IPv4 or IPv6 address literal (RFC 5321 §4.1.3), the only HELO kept with its brackets. */
  private static final Pattern ADDRESS_LITERAL =
      Pattern.compile("\\[(?:[0-9.]{7,15}|IPv6:[0-9A-Fa-f:.]{2,45})]");

  private static final DateTimeFormatter DATE =
      DateTimeFormatter.ofPattern("EEE, d MMM yyyy HH:mm:ss Z", Locale.ROOT);

  /** The {@code with} keyword of RFC 3848 and RFC 6531: SMTP, ESMTP, ESMTPS, UTF8SMTPS... */
  String protocol() {
    if (!esmtp) {
      return "SMTP";
    }
    return (smtputf8 ? "UTF8SMTP" : "ESMTP") + (tls.isPresent() ? "S" : "");
  }

  /**
   * The header, CRLF-terminated, folded as Postfix folds it; {@code for} only with one recipient.
   */
  public String receivedHeader(List<String> recipients, ZonedDateTime now) {
    StringBuilder header = new StringBuilder("Received: from ");
    header.append(helo.map(Trace::heloToken).orElse("unknown"));
    header.append(" (").append(literal()).append(")\r\n");
    tls.ifPresent(
        t ->
            header
                .append("\t(using ")
                .append(token(t.protocol()))
                .append(" with cipher ")
                .append(token(t.cipher()))
                .append(")\r\n"));
    header.append("\tby ").append(gatewayName).append(" (rcptproxy-gateway)");
    header.append(" with ").append(protocol()).append(" id ").append(token(id));
    if (recipients.size() == 1) {
      header.append("\r\n\tfor <").append(recipients.get(0)).append(">");
    }
    header.append("; ").append(DATE.format(now)).append("\r\n");
    return header.toString();
  }

  /**
   * The {@code XFORWARD} commands (Postfix's XFORWARD_README) for the attributes the backend
   * offers; each line stays far below 512 bytes, so a long HELO gets a command of its own.
   */
  public List<String> xforward(Set<String> offered) {
    List<String> attributes = new ArrayList<>();
    if (offered.contains("NAME")) {
      attributes.add("NAME=[UNAVAILABLE]"); // the gateway does no reverse lookups
    }
    if (offered.contains("ADDR")) {
      attributes.add(
          "ADDR=" + (address instanceof Inet6Address ? "IPV6:" : "") + address.getHostAddress());
    }
    if (offered.contains("PROTO")) {
      attributes.add("PROTO=" + (esmtp ? "ESMTP" : "SMTP"));
    }
    List<String> commands = new ArrayList<>();
    if (!attributes.isEmpty()) {
      commands.add("XFORWARD " + String.join(" ", attributes));
    }
    if (offered.contains("HELO") && helo.isPresent()) {
      String value = xtext(helo.get());
      if (value.length() <= 255) {
        commands.add("XFORWARD HELO=" + value);
      }
    }
    return commands;
  }

  private String literal() {
    return address instanceof Inet6Address
        ? "[IPv6:" + address.getHostAddress() + "]"
        : "[" + address.getHostAddress() + "]";
  }

  /**
   * The client's HELO name as one safe word: an address literal ({@code [192.0.2.1]}, {@code
   * [IPv6:2001:db8::1]}) as it is, anything else with every character but letters, digits, {@code
   * .}, {@code -} and {@code _} turned into {@code ?}, at most 255 of them. Nothing the client says
   * can end the {@code from} clause, open a comment or a literal, or start the date ({@code ;}).
   */
  public static String heloToken(String helo) {
    if (ADDRESS_LITERAL.matcher(helo).matches()) {
      return helo;
    }
    StringBuilder clean = new StringBuilder(Math.min(helo.length(), 255));
    helo.codePoints()
        .limit(255)
        .forEach(
            c ->
                clean.append(
                    (c >= 'a' && c <= 'z')
                            || (c >= 'A' && c <= 'Z')
                            || (c >= '0' && c <= '9')
                            || c == '.'
                            || c == '-'
                            || c == '_'
                        ? (char) c
                        : '?'));
    return clean.toString();
  }

  /** A word of the gateway's own TLS stack: printable ASCII without spaces or parentheses. */
  private static String token(String text) {
    StringBuilder clean = new StringBuilder(Math.min(text.length(), 255));
    text.codePoints()
        .limit(255)
        .forEach(c -> clean.append(c > ' ' && c < 0x7f && c != '(' && c != ')' ? (char) c : '?'));
    return clean.toString();
  }

  /** RFC 3461 xtext: printable ASCII but '+' and '=' as itself, everything else as +XX. */
  private static String xtext(String value) {
    StringBuilder encoded = new StringBuilder();
    for (byte b : value.getBytes(java.nio.charset.StandardCharsets.UTF_8)) {
      int c = b & 0xff;
      if (c > ' ' && c < 0x7f && c != '+' && c != '=') {
        encoded.append((char) c);
      } else {
        encoded.append('+').append(String.format("%02X", c));
      }
    }
    return encoded.toString();
  }
}
