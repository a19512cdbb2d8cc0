package io.baton.linux;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Runs a door test class inside one private network namespace of its own: before the class's first
 * test {@link PrivateNamespaceExtension} creates a {@link PrivateNetns} and stores it in the
 * class's {@code static PrivateNetns} field; after the last one it deletes the namespace.
 *
 * <p>Carries the tag {@code lab}: making a namespace needs root ({@code CAP_SYS_ADMIN} and {@code
 * CAP_NET_ADMIN}), so {@code ./test --unit}, which runs as any user, leaves these classes out.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
@Tag("lab")
@ExtendWith(PrivateNamespaceExtension.class)
@interface PrivateNamespace {}
