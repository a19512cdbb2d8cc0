package io.baton.routing;

import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Optional;

/**
 * The parsed first line of a request head: {@code METHOD SP TARGET SP VERSION}, with the target
 * split into path, query and (for the absolute form) authority host.
 *
 * <p>Supported target forms (RFC 9112 §3.2): origin ({@code /p?q}), absolute ({@code
 * http[s]://authority/p?q}, no userinfo) and asterisk ({@code *}, with OPTIONS only). The authority
 * form (CONNECT) is refused: a load balancer in front of servers is no tunnel proxy.
 *
 * @param authorityHost normalised host of an absolute-form target, else empty
 */
record RequestLine(
    String method,
    String target,
    String version,
    String path,
    Optional<String> query,
    Optional<String> authorityHost) {

  static RequestLine parse(byte[] line, int length) throws MalformedHeadException {
    int firstSpace = indexOf(line, 0, length, ' ');
    int secondSpace = firstSpace < 0 ? -1 : indexOf(line, firstSpace + 1, length, ' ');
    if (secondSpace < 0 || indexOf(line, secondSpace + 1, length, ' ') >= 0) {
      throw new MalformedHeadException(
          "malformed request line (expected METHOD SP TARGET SP HTTP-VERSION)");
    }
    if (firstSpace == 0) throw new MalformedHeadException("empty method");
    for (int i = 0; i < firstSpace; i++) {
      if (!HttpSyntax.isTokenChar(line[i])) {
        throw new MalformedHeadException("invalid character in method");
      }
    }
    if (secondSpace == firstSpace + 1) throw new MalformedHeadException("empty request target");
    for (int i = firstSpace + 1; i < secondSpace; i++) {
      if (!HttpSyntax.isTargetChar(line[i])) {
        throw new MalformedHeadException("invalid character in request target");
      }
    }
    String method = ascii(line, 0, firstSpace);
    String target = ascii(line, firstSpace + 1, secondSpace);
    String version = checkVersion(ascii(line, secondSpace + 1, length));
    return withTarget(method, target, version);
  }

  private static String checkVersion(String version) throws MalformedHeadException {
    if (version.equals(RequestHead.HTTP_1_1) || version.equals(RequestHead.HTTP_1_0)) {
      return version;
    }
    if (version.matches("HTTP/[0-9](\\.[0-9])?")) {
      throw new MalformedHeadException("unsupported HTTP version " + version);
    }
    throw new MalformedHeadException("malformed HTTP version");
  }

  private static RequestLine withTarget(String method, String target, String version)
      throws MalformedHeadException {
    if (target.charAt(0) == '/') {
      return split(method, target, version, target, Optional.empty());
    }
    if (target.equals("*")) {
      if (!method.equals("OPTIONS")) {
        throw new MalformedHeadException("asterisk-form target is only allowed with OPTIONS");
      }
      return new RequestLine(method, target, version, "*", Optional.empty(), Optional.empty());
    }
    int schemeEnd = target.indexOf("://");
    if (schemeEnd > 0) {
      String scheme = target.substring(0, schemeEnd).toLowerCase(Locale.ROOT);
      if (!scheme.equals("http") && !scheme.equals("https")) {
        throw new MalformedHeadException("unsupported scheme in absolute-form target");
      }
      int authorityStart = schemeEnd + 3;
      int authorityEnd = authorityStart;
      while (authorityEnd < target.length() && "/?".indexOf(target.charAt(authorityEnd)) < 0) {
        authorityEnd++;
      }
      String authority = target.substring(authorityStart, authorityEnd);
      if (authority.indexOf('@') >= 0) {
        throw new MalformedHeadException("userinfo in absolute-form target");
      }
      String host = HostSyntax.hostOfAuthority(authority);
      if (host == null || host.isEmpty()) {
        throw new MalformedHeadException("invalid authority in absolute-form target");
      }
      String rest = target.substring(authorityEnd);
      if (rest.isEmpty() || rest.charAt(0) == '?') rest = "/" + rest;
      return split(method, target, version, rest, Optional.of(host));
    }
    if (method.equals("CONNECT")) {
      throw new MalformedHeadException("CONNECT (authority-form target) is not supported");
    }
    throw new MalformedHeadException("request target must start with / or http(s)://");
  }

  private static RequestLine split(
      String method, String target, String version, String pathAndQuery, Optional<String> host) {
    int question = pathAndQuery.indexOf('?');
    if (question < 0) {
      return new RequestLine(method, target, version, pathAndQuery, Optional.empty(), host);
    }
    return new RequestLine(
        method,
        target,
        version,
        pathAndQuery.substring(0, question),
        Optional.of(pathAndQuery.substring(question + 1)),
        host);
  }

  private static int indexOf(byte[] line, int from, int to, char c) {
    for (int i = from; i < to; i++) {
      if (line[i] == c) return i;
    }
    return -1;
  }

  private static String ascii(byte[] line, int from, int to) {
    return new String(line, from, to - from, StandardCharsets.ISO_8859_1);
  }
}
