/**
 * What an embedded application implements so that a server can move its live connections to another
 * server (live migration, docs/design.md): a {@link io.baton.migration.Migratable} handler in the
 * channel's pipeline that stops at a safe point and says what the target needs to carry on, and the
 * {@link io.baton.migration.MigratedIn} event with which the target's pipeline learns it. Shared by
 * the server agent and the applications; imports no role.
 */
package io.baton.migration;
