/* A linear pre-scan of the domain XML that refuses what would make libxml2 slow, before it sees a byte. */
#pragma once

#include "shared/error.h"

/* libvirt's elements carry at most a dozen or so attributes (an interface's <driver>, a disk's <driver>,
 * <graphics>). libxml2 up to 2.11 checks an element's attributes for duplicates, and links each new one at
 * the end of a list, in time quadratic in their number: 16000 on one element took 1.1 s, 100000 (1 MB)
 * 54 s. At 256 that is 32768 steps an element, and 4 MiB of such elements parsed as fast as 4 MiB of
 * empty ones (0.70 s against 0.62 s; 1024 took 1.9 s). */
#define GH_DOMXML_MAX_ATTRS 256

/* Every element start, and every prefixed name, looks its namespace up by walking all the declarations
 * in scope: 4 MiB of <a/> under 32 nested elements of 256 xmlns:pN each took 12 s. libvirt declares one
 * on <domain> (qemu:) and one on each <metadata> child, so a handful are ever in scope. */
#define GH_DOMXML_MAX_NS 64

/* libxml2's own limit without XML_PARSE_HUGE (xmlParserMaxDepth), ours whatever version is linked; libvirt
 * nests about 6 deep. It also bounds the per-element stack the scan keeps. */
#define GH_DOMXML_MAX_DEPTH 256

/* libxml2 builds a tree node for each element, attribute, comment, processing instruction and CDATA section,
 * and that, not the bytes, sets the time: 4 MiB of <a/> (a million elements) took 0.55 s of CPU, 4 MiB of
 * 256-attribute elements about as long, 4 MiB of attribute values or names a tenth of that. win11.xml has
 * 568 in 9.6 KB: only a domain written like it and close to the 4 MiB cap would reach this. */
#define GH_DOMXML_MAX_NODES (256 * 1024)

/* The scan does not follow a processing instruction whose target is longer (libxml2 gives up on names at
 * 50000 bytes and then reads the instruction as content): libxml2 reads only up to it. See scan_pi(). */
#define GH_DOMXML_MAX_PI_TARGET 1024

typedef struct gh_xml_budget {
        size_t parse_len;  /* how much libxml2 may read: all, or up to a little past the first bad syntax */
        unsigned bad_line; /* the line of that bad syntax, 0 when there is none */
} gh_xml_budget;

/* -EINVAL with err naming the limit and the line when the document exceeds one. Syntax it cannot vouch
 * for is left to libxml2 to report, but libxml2 gets only the scanned part (and a little more for its
 * message): what the scan did not count is never parsed. */
int gh_xml_budget_check(const char *buf, size_t len, gh_xml_budget *ret, gh_error *err);
