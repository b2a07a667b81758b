/* Expected outputs kept as files under tests/fixtures: the text a test compares with, written once for
 * every test that expects it, with what varies between those tests (addresses, names) as @KEY@. */
#pragma once

#include "shared/macro.h"

/* The text of tests/fixtures/REL with every @KEY@ in it replaced by its value; keys and values come in
 * pairs ("@HOST@", "0000:00:05.0", ...), NULL after the last. A key the file lacks is fine; an @KEY@
 * left without a value fails the running test, as does a file that cannot be read. Newly allocated. */
char *fixture_text(const char *rel, ...) __attribute__((sentinel));
