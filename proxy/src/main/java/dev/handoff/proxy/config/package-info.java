/**
 * The {@code --config} YAML file: its listeners, each with its address, routes and own peek and
 * PROXY-protocol settings, every error naming the file, line and field. Calls {@code route} (the
 * rules and tables it builds); opens nothing but the file.
 */
package dev.handoff.proxy.config;
