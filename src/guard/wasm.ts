import v8 from 'node:v8';

/*
 * The guard's parsers are WebAssembly (tree-sitter-bash, libpg-query). By default V8 also recompiles their hot
 * functions with its optimizing compiler on background threads, and a process does not exit before those jobs end:
 * on a busy 2-core machine that made one `dbguard guard hook` take seconds of CPU for a parse of a few
 * microseconds. The baseline compiler alone (Liftoff) parses just as correctly and keeps the hook within its budget
 * (bench case `guard-hook`). Imported first by the modules that load the parsers, before any WebAssembly compiles.
 */
v8.setFlagsFromString('--liftoff-only');
