/**
 * The node configuration: one YAML file per node, read and fully checked at start (or by {@code
 * baton config check FILE}) into immutable records rooted at {@link io.baton.config.BatonConfig}.
 *
 * <p>Top-level sections, annotated examples in {@code config/examples/}:
 *
 * <ul>
 *   <li>{@code node} (required): name, roles ({@code dispatcher} and/or {@code server}), interfaces
 *       {@code front} (required for dispatchers), {@code fabric} (required), {@code sync}
 *       (optional).
 *   <li>{@code cluster} (required): {@code key-file} or {@code key} (hex or base64, at least 32
 *       bytes), {@code handoff-port} (default 7400).
 *   <li>{@code vips}: address, port, mode ({@code http} default, {@code tls}, {@code l4}), {@code
 *       default-pool}, ordered {@code rules}. Required for dispatchers.
 *   <li>{@code pools}: by name; {@code balance} ({@code least-connections} default, {@code
 *       round-robin}, {@code hash} with {@code hash-key}), {@code members}.
 *   <li>{@code timeouts}, {@code limits}: optional, defaults in {@link
 *       io.baton.config.Timeouts#DEFAULTS} and {@link io.baton.config.Limits#DEFAULTS}.
 *   <li>{@code server} (exactly for role server): {@code apply-host-preparation}, {@code
 *       deliveries} (the VIP ports this server serves and how they reach the application).
 *   <li>{@code metrics} (optional): {@code listen} address of the admin endpoint.
 * </ul>
 *
 * <p>Errors are {@link io.baton.config.ConfigException}s with one-line messages {@code
 * FILE:LINE:COLUMN: FIELD.PATH: reason}. The YAML is read into a position-keeping tree ({@code
 * YamlTreeReader}) and bound by hand, section by section, so that every message, including
 * cross-reference errors, points at the exact value.
 */
package io.baton.config;
