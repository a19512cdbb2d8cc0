/** Logging helpers every role uses (per-connection lines bounded in rate). */
package io.baton.log;
