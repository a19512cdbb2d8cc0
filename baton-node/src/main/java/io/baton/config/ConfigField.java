package io.baton.config;

import io.baton.config.YamlNode.Entry;
import io.baton.config.YamlNode.Kind;
import io.baton.config.YamlNode.Mapping;
import io.baton.config.YamlNode.Position;
import io.baton.config.YamlNode.Scalar;
import io.baton.config.YamlNode.Sequence;
import io.baton.linux.IpText;
import java.math.BigInteger;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * One field of the config being read: a value of the YAML tree (or its absence), its dotted path
 * such as {@code pools.web.members[1].weight}, and where it stands in the file. The typed readers
 * ({@link #asInt}, {@link #asIpv4}, ...) either return a checked value or throw a {@link
 * ConfigException} that names file, line, column and path.
 *
 * <p>An absent field remembers the position of the mapping that should have held it, so that "is
 * required" points somewhere useful. A key with an empty value ({@code sync:}) counts as absent.
 *
 * <p>Immutable.
 */
final class ConfigField {
  private static final Pattern IPV4 =
      Pattern.compile(
          "(0|[1-9][0-9]{0,2})\\.(0|[1-9][0-9]{0,2})\\.(0|[1-9][0-9]{0,2})"
              + "\\.(0|[1-9][0-9]{0,2})");

  /** The characters of IPv6 text (an embedded IPv4 tail included); the JDK checks the rest. */
  private static final Pattern IPV6_TEXT = Pattern.compile("[0-9a-fA-F:.]{2,45}");

  private final String source;
  private final String path;
  private final String key;
  private final YamlNode node;
  private final Position position;

  private ConfigField(String source, String path, String key, YamlNode node, Position position) {
    this.source = source;
    this.path = path;
    this.key = key;
    this.node = node;
    this.position = position;
  }

  /** The whole document. */
  static ConfigField root(String source, YamlNode document) {
    return new ConfigField(source, "", "", document, document.position());
  }

  /** Dotted path for messages, {@code (document)} for the root. */
  String path() {
    return path.isEmpty() ? "(document)" : path;
  }

  /** Whether the value is a single scalar (not a list or a mapping). */
  boolean isScalar() {
    return node instanceof Scalar;
  }

  boolean isPresent() {
    return node != null;
  }

  /** A refusal of this field, at its position. */
  ConfigException error(String reason) {
    return new ConfigException(source, position.line(), position.column(), path(), reason);
  }

  /** This field, or "is required" if it is absent. */
  ConfigField required() throws ConfigException {
    return required("is required");
  }

  /** This field, or the given reason if it is absent. */
  ConfigField required(String reasonIfAbsent) throws ConfigException {
    if (node == null) {
      throw error(reasonIfAbsent);
    }
    return this;
  }

  // ---------------------------------------------------------------- mappings

  /**
   * Checks that this field is a mapping whose keys are all among {@code allowed}; a typo gets the
   * list of allowed keys and, when one is close, a suggestion.
   */
  ConfigField allowKeys(String... allowed) throws ConfigException {
    List<String> allowedKeys = Arrays.asList(allowed);
    for (Entry entry : mapping().entries().values()) {
      if (!allowedKeys.contains(entry.key())) {
        Position at = entry.keyPosition();
        String suggestion = Spelling.closest(entry.key(), allowedKeys);
        throw new ConfigException(
            source,
            at.line(),
            at.column(),
            childPath(entry.key()),
            "unknown key (expected "
                + Spelling.oneOf(allowedKeys)
                + ")"
                + (suggestion == null ? "" : "; did you mean '" + suggestion + "'?"));
      }
    }
    return this;
  }

  /**
   * Refuses {@code key} if this mapping has it: a key that older versions read and this one no
   * longer does, with {@code reason} saying what replaced it. Checked before {@link #allowKeys} so
   * that the message says why rather than "unknown key".
   */
  ConfigField refuseRemovedKey(String key, String reason) throws ConfigException {
    if (node == null) {
      return this;
    }
    Entry entry = mapping().entries().get(key);
    if (entry != null) {
      Position at = entry.keyPosition();
      throw new ConfigException(
          source, at.line(), at.column(), childPath(key), "removed: " + reason);
    }
    return this;
  }

  /** Checks that every key of this mapping (if present) matches {@code pattern}. */
  ConfigField keysMatch(Pattern pattern, String what) throws ConfigException {
    if (node == null) {
      return this;
    }
    for (Entry entry : mapping().entries().values()) {
      if (!pattern.matcher(entry.key()).matches()) {
        Position at = entry.keyPosition();
        throw new ConfigException(
            source,
            at.line(),
            at.column(),
            childPath(entry.key()),
            "must be " + what + ", got '" + entry.key() + "'");
      }
    }
    return this;
  }

  /** The value under {@code key} of this mapping, possibly absent; absent if this one is. */
  ConfigField get(String key) throws ConfigException {
    if (node == null) {
      return new ConfigField(source, childPath(key), key, null, position);
    }
    Entry entry = mapping().entries().get(key);
    if (entry == null) {
      return new ConfigField(source, childPath(key), key, null, position);
    }
    YamlNode value = entry.value();
    boolean empty = value instanceof Scalar s && s.kind() == Kind.NULL;
    return new ConfigField(source, childPath(key), key, empty ? null : value, value.position());
  }

  /** The keys of this mapping in file order, as fields; none if absent. */
  List<ConfigField> entries() throws ConfigException {
    List<ConfigField> fields = new ArrayList<>();
    if (node != null) {
      for (String key : mapping().entries().keySet()) {
        fields.add(get(key));
      }
    }
    return fields;
  }

  /** This field's key in its mapping; empty for the root and list elements. */
  String key() {
    return key;
  }

  /** This field's mapping, or a refusal naming what was found instead. */
  private Mapping mapping() throws ConfigException {
    if (node instanceof Mapping m) {
      return m;
    }
    throw error("must be a mapping of keys to values, got " + describe(node));
  }

  private String childPath(String key) {
    return path.isEmpty() ? key : path + "." + key;
  }

  // ---------------------------------------------------------------- lists

  /** The elements of this list; a single scalar counts as a list of one; none if absent. */
  List<ConfigField> elements() throws ConfigException {
    List<ConfigField> fields = new ArrayList<>();
    switch (node) {
      case null -> {}
      case Sequence s -> {
        for (YamlNode element : s.elements()) {
          String elementPath = path + "[" + fields.size() + "]";
          fields.add(new ConfigField(source, elementPath, "", element, element.position()));
        }
      }
      case Scalar s -> fields.add(this);
      case Mapping m -> throw error("must be a list, got a mapping");
    }
    return fields;
  }

  /** The elements of this list, which must be written as a list (not a single scalar). */
  List<ConfigField> list() throws ConfigException {
    if (node != null && !(node instanceof Sequence)) {
      throw error("must be a list, got " + describe(node));
    }
    return elements();
  }

  // ---------------------------------------------------------------- scalars

  /** The scalar's text, which must not be blank. Numbers and booleans give their text. */
  String asString() throws ConfigException {
    if (!(node instanceof Scalar s)) {
      throw error("must be a single value, got " + describe(node));
    }
    if (s.text().isBlank()) {
      throw error("must not be empty");
    }
    return s.text();
  }

  /** The scalar's text, checked against {@code pattern}; {@code what} explains the pattern. */
  String asName(Pattern pattern, String what) throws ConfigException {
    String text = asString();
    if (!pattern.matcher(text).matches()) {
      throw error("must be " + what + ", got '" + text + "'");
    }
    return text;
  }

  int asInt(int min, int max) throws ConfigException {
    if (!(node instanceof Scalar s) || s.kind() != Kind.INTEGER) {
      throw error("must be an integer " + min + ".." + max + ", got " + describe(node));
    }
    BigInteger value;
    try {
      value = new BigInteger(s.text().replace("_", ""));
    } catch (NumberFormatException e) {
      throw error("must be a decimal integer " + min + ".." + max + ", got " + s.text());
    }
    if (value.compareTo(BigInteger.valueOf(min)) < 0
        || value.compareTo(BigInteger.valueOf(max)) > 0) {
      throw error("must be " + min + ".." + max + ", got " + value);
    }
    return value.intValueExact();
  }

  int asPort() throws ConfigException {
    return asInt(1, 65535);
  }

  /** {@code true} or {@code false}; YAML also reads {@code yes/no} and {@code on/off} so. */
  boolean asBoolean() throws ConfigException {
    if (!(node instanceof Scalar s) || s.kind() != Kind.BOOLEAN) {
      throw error("must be true or false, got " + describe(node));
    }
    return Boolean.parseBoolean(s.text()) || List.of("yes", "on", "y").contains(lower(s.text()));
  }

  /** A positive duration such as {@code 500ms}, {@code 5s}, {@code 2m}, {@code 1h}. */
  Duration asDuration() throws ConfigException {
    String text = asString();
    Duration duration;
    try {
      duration = Durations.parse(text);
    } catch (IllegalArgumentException e) {
      throw error(e.getMessage());
    }
    if (duration.isZero()) {
      throw error("must be more than 0, got " + text);
    }
    return duration;
  }

  /**
   * An IPv4 literal that can name a host: not {@code 0.0.0.0}, not multicast or broadcast. Host
   * names are refused rather than resolved: a config must not depend on DNS at start. For fields
   * that do not take IPv6 yet (the sync plane, BGP, the gateway, metrics and admin listeners).
   */
  Inet4Address asIpv4() throws ConfigException {
    String text = asString();
    if (text.indexOf(':') >= 0) {
      throw error("must be an IPv4 address (IPv6 is not supported here yet), got '" + text + "'");
    }
    Inet4Address address = parseIpv4(text);
    checkUnicast(address);
    return address;
  }

  /**
   * An IPv4 or IPv6 literal that can name a host: IPv4 as {@link #asIpv4}; IPv6 in RFC 4291 text
   * (compressed or not, without brackets or zone), not {@code ::}, not multicast, not link-local
   * (it would need a zone), not IPv4-mapped ({@code ::ffff:198.18.0.1} names an IPv4 host: write it
   * as IPv4). Host names are refused, never resolved.
   */
  InetAddress asIp() throws ConfigException {
    InetAddress address = parseIp(asString());
    checkUnicast(address);
    return address;
  }

  private void checkUnicast(InetAddress address) throws ConfigException {
    if (address instanceof Inet6Address v6) {
      if (v6.isAnyLocalAddress() || v6.isMulticastAddress()) {
        throw error("must be a unicast IPv6 address, got " + IpText.of(v6));
      }
      if (v6.isLinkLocalAddress()) {
        throw error(
            "must not be link-local (fe80::/10 needs a zone, which Baton does not take), got "
                + IpText.of(v6));
      }
      return;
    }
    if (address.isAnyLocalAddress()
        || address.isMulticastAddress()
        || address.getHostAddress().equals("255.255.255.255")) {
      throw error("must be a unicast IPv4 address, got " + address.getHostAddress());
    }
  }

  /** {@code ADDRESS:PORT} with an IPv4 literal; {@code 0.0.0.0} is allowed only if asked. */
  InetSocketAddress asIpv4SocketAddress(boolean allowAnyAddress) throws ConfigException {
    String text = asString();
    if (text.startsWith("[")) {
      throw error(
          "must be an IPv4 ADDRESS:PORT (IPv6 is not supported here yet), got '" + text + "'");
    }
    int colon = text.lastIndexOf(':');
    if (colon < 0) {
      throw error("must be ADDRESS:PORT such as 127.0.0.1:8080, got '" + text + "'");
    }
    Inet4Address address = parseIpv4(text.substring(0, colon));
    int port = port(text.substring(colon + 1));
    if (address.isAnyLocalAddress() && !allowAnyAddress) {
      throw error("must name a host, not 0.0.0.0");
    }
    return new InetSocketAddress(address, port);
  }

  /**
   * {@code ADDRESS:PORT} with an IPv4 literal, or {@code [ADDRESS]:PORT} with an IPv6 one (the
   * brackets of RFC 3986, so the port cannot be read as part of the address); the address must name
   * a host ({@link #asIp}), loopback included.
   */
  InetSocketAddress asSocketAddress() throws ConfigException {
    String text = asString();
    if (text.startsWith("[")) {
      int close = text.indexOf(']');
      if (close < 0 || close + 1 >= text.length() || text.charAt(close + 1) != ':') {
        throw error("must be [ADDRESS]:PORT such as [2001:db8::1]:8080, got '" + text + "'");
      }
      String inside = text.substring(1, close);
      if (inside.indexOf(':') < 0) {
        throw error(
            "brackets are for IPv6 addresses; write an IPv4 one as 127.0.0.1:8080, got '"
                + text
                + "'");
      }
      InetAddress address = parseIp(inside);
      checkUnicast(address);
      return new InetSocketAddress(address, port(text.substring(close + 2)));
    }
    int colon = text.lastIndexOf(':');
    if (colon < 0) {
      throw error("must be ADDRESS:PORT such as 127.0.0.1:8080, got '" + text + "'");
    }
    if (text.indexOf(':') != colon) {
      throw error(
          "an IPv6 address and port are written [ADDRESS]:PORT such as [2001:db8::1]:8080, got '"
              + text
              + "'");
    }
    Inet4Address address = parseIpv4(text.substring(0, colon));
    int port = port(text.substring(colon + 1));
    if (address.isAnyLocalAddress()) {
      throw error("must name a host, not 0.0.0.0");
    }
    return new InetSocketAddress(address, port);
  }

  private int port(String portText) throws ConfigException {
    int port;
    try {
      port = Integer.parseInt(portText);
    } catch (NumberFormatException e) {
      port = -1;
    }
    if (port < 1 || port > 65535) {
      throw error("port must be 1..65535, got '" + portText + "'");
    }
    return port;
  }

  /** An IPv4 or IPv6 literal; never resolves a name. */
  private InetAddress parseIp(String text) throws ConfigException {
    if (text.indexOf(':') < 0) {
      if (!IPV4.matcher(text).matches()) {
        throw error(
            "must be an IP address such as 198.18.0.1 or 2001:db8::1, got '"
                + text
                + "'"
                + (text.matches(".*[a-zA-Z].*") ? " (host names are not resolved)" : ""));
      }
      return parseIpv4(text);
    }
    if (!IPV6_TEXT.matcher(text).matches()) {
      throw error(
          "must be an IPv6 address such as 2001:db8::1 (no brackets, no zone), got '" + text + "'");
    }
    InetAddress address;
    try {
      // A literal: ofLiteral never consults DNS.
      address = InetAddress.ofLiteral(text);
    } catch (IllegalArgumentException e) {
      throw error("must be an IPv6 address such as 2001:db8::1, got '" + text + "'");
    }
    if (address instanceof Inet4Address v4) {
      throw error(
          "is an IPv4-mapped IPv6 address; write the IPv4 address "
              + v4.getHostAddress()
              + " instead, got '"
              + text
              + "'");
    }
    return address;
  }

  private Inet4Address parseIpv4(String text) throws ConfigException {
    var matcher = IPV4.matcher(text);
    if (!matcher.matches()) {
      throw error(
          "must be an IPv4 address such as 198.18.0.1, got '"
              + text
              + "'"
              + (text.matches(".*[a-zA-Z].*") ? " (host names are not resolved)" : ""));
    }
    byte[] bytes = new byte[4];
    for (int i = 0; i < 4; i++) {
      int octet = Integer.parseInt(matcher.group(i + 1));
      if (octet > 255) {
        throw error("must be an IPv4 address, octet " + octet + " is over 255 in '" + text + "'");
      }
      bytes[i] = (byte) octet;
    }
    try {
      // getByAddress never consults DNS.
      return (Inet4Address) Inet4Address.getByAddress(bytes);
    } catch (java.net.UnknownHostException e) {
      throw new AssertionError("four bytes are always an IPv4 address", e);
    }
  }

  /**
   * One of an enum's config names ({@code LEAST_CONNECTIONS} is {@code least-connections}); {@code
   * noun} names the kind of value in the message: "unknown role 'x' (expected ...)".
   */
  <E extends Enum<E>> E asEnum(Class<E> type, String noun) throws ConfigException {
    String text = asString();
    List<String> names = new ArrayList<>();
    for (E constant : type.getEnumConstants()) {
      String name = configName(constant);
      if (name.equals(text)) {
        return constant;
      }
      names.add(name);
    }
    throw error("unknown " + noun + " '" + text + "' (expected " + Spelling.oneOf(names) + ")");
  }

  /** The config spelling of an enum constant: lower case, dashes for underscores. */
  static String configName(Enum<?> constant) {
    return lower(constant.name()).replace('_', '-');
  }

  private static String lower(String text) {
    return text.toLowerCase(Locale.ROOT);
  }

  private static String describe(YamlNode node) {
    return switch (node) {
      case null -> "nothing";
      case Mapping m -> "a mapping";
      case Sequence s -> "a list";
      case Scalar s when s.kind() == Kind.STRING && s.text().matches("-?[0-9]+") ->
          "the string '" + s.text() + "' (drop the quotes)";
      case Scalar s -> "'" + s.text() + "'";
    };
  }
}
