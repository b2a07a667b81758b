/* The pre-scan of the domain XML: attributes per element, namespace declarations in scope, depth and nodes
 * in all, counted in one pass that knows comments, CDATA sections, processing instructions and quoted
 * values. It must never count less than libxml2 parses. Where the syntax goes wrong, libxml2 reports an
 * error and goes on from a point of its choosing, so the scan stops there and libxml2 is given only what was
 * scanned, and a little more to word its error. */
#include <errno.h>
#include <stdint.h>

#include "xml-budget.h"

/* Bytes past the first bad one that libxml2 still gets: enough for its message, too few to cost time. */
#define SLACK ((size_t)1024)

typedef struct scan {
        const char *p, *end;
        unsigned line;
        unsigned depth;
        unsigned ns_in_scope;
        unsigned nodes;
        uint16_t ns[GH_DOMXML_MAX_DEPTH]; /* declarations on each open element */
        bool root_done;
        const char *bad; /* where the scan stopped vouching, NULL when it read everything */
        unsigned bad_line;
} scan;

/* A start tag being scanned, for the counts and the messages. */
typedef struct tag {
        const char *name;
        int name_len; /* as much of it as a message shows */
        unsigned line;
        unsigned n_attrs;
        unsigned n_ns;
} tag;

static bool is_space(char c)
{
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Wider than XML's NameStartChar and NameChar. A name the scan takes and libxml2 refuses sends libxml2 out
 * of the tag while the scan stays in it; but inside a tag the scan stops at any '<', so libxml2 cannot
 * meet markup the scan did not. */
static bool is_name_start(char c)
{
        unsigned char u = c;

        return (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || u == '_' || u == ':' || u >= 0x80;
}

/* No space and no control character (a message may quote the name). */
static bool is_name_char(char c)
{
        return (unsigned char)c > 0x20 && !strchr("=<>/?'\"", c);
}

static const char *name_end(const char *p, const char *end)
{
        while (p < end && is_name_char(*p))
                p++;
        return p;
}

static const char *space_end(const char *p, const char *end)
{
        while (p < end && is_space(*p))
                p++;
        return p;
}

static void scan_to(scan *s, const char *to)
{
        for (const char *nl; (nl = memchr(s->p, '\n', to - s->p)); s->p = nl + 1)
                s->line++;
        s->p = to;
}

/* 0: the scan ends here, and libxml2 words what is wrong at 'at'. */
static int scan_stop(scan *s, const char *at)
{
        scan_to(s, at);
        s->bad = at;
        s->bad_line = s->line;
        return 0;
}

static int scan_node(scan *s, gh_error *err)
{
        if (++s->nodes > GH_DOMXML_MAX_NODES)
                return gh_error_set(
                        err, -EINVAL,
                        "domain XML line %u: more than %d elements, attributes and comments in all", s->line,
                        GH_DOMXML_MAX_NODES);
        return 1;
}

/* A comment, a CDATA section or a processing instruction: one node, whatever is in it. */
static int scan_past(scan *s, size_t from, const char *needle, gh_error *err)
{
        const char *q = memmem(s->p + from, s->end - s->p - from, needle, strlen(needle));

        if (!q)
                return scan_stop(s, s->end);
        scan_to(s, q + strlen(needle));
        return scan_node(s, err);
}

/* libxml2 reads "<?xml " at the very start (after a BOM) as the XML declaration, and whatever is wrong in
 * it, the declaration ends at its first '>'. */
static int scan_decl(scan *s)
{
        const char *p = s->p, *gt;

        if (s->end - p >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
                p += 3;
        if (s->end - p < 6 || memcmp(p, "<?xml", 5) != 0 || !is_space(p[5]))
                return 1;
        gt = memchr(p, '>', s->end - p);
        if (!gt)
                return scan_stop(s, s->end);
        scan_to(s, gt + 1);
        return 1;
}

/* libxml2 takes a processing instruction's body, up to "?>", only after a target it could parse, and
 * otherwise goes on right after "<?" as content. So the target must be one libxml2 surely parses: ASCII
 * start, and far below its 50000-byte limit on names. libvirt writes no processing instruction. */
static int scan_pi(scan *s, gh_error *err)
{
        const char *t = s->p + 2, *e = name_end(t, s->end);
        char c = t < s->end ? *t : 0;

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':') ||
            e - t > GH_DOMXML_MAX_PI_TARGET)
                return scan_stop(s, s->p);
        return scan_past(s, 2, "?>", err);
}

/* libxml2 closes the open element whatever the end tag's name, as this does. */
static int scan_end_tag(scan *s)
{
        const char *n = s->p + 2, *e = name_end(n, s->end), *gt = space_end(e, s->end);

        if (e == n || gt == s->end || *gt != '>' || s->depth == 0)
                return scan_stop(s, s->p);
        s->ns_in_scope -= s->ns[--s->depth];
        s->root_done = s->depth == 0;
        scan_to(s, gt + 1);
        return 1;
}

static bool is_xmlns(const char *name, size_t len)
{
        return len >= 5 && memcmp(name, "xmlns", 5) == 0 && (len == 5 || name[5] == ':');
}

/* name = 'value' at s->p, value without '<' (libxml2 would stop there). */
static int scan_attr(scan *s, tag *t)
{
        const char *n = s->p, *e = name_end(n, s->end), *q = space_end(e, s->end), *close, *lt;

        if (q == s->end || *q != '=')
                return scan_stop(s, q);
        q = space_end(q + 1, s->end);
        if (q == s->end || (*q != '\'' && *q != '"'))
                return scan_stop(s, q);
        close = memchr(q + 1, *q, s->end - q - 1);
        lt = memchr(q + 1, '<', (close ? close : s->end) - q - 1);
        if (lt || !close)
                return scan_stop(s, lt ? lt : s->end);
        t->n_attrs++;
        if (is_xmlns(n, e - n))
                t->n_ns++;
        scan_to(s, close + 1);
        return 1;
}

static int tag_check(const scan *s, const tag *t, gh_error *err)
{
        if (t->n_attrs > GH_DOMXML_MAX_ATTRS)
                return gh_error_set(err, -EINVAL,
                                    "domain XML line %u: element <%.*s> has more than %d attributes",
                                    t->line, t->name_len, t->name, GH_DOMXML_MAX_ATTRS);
        if (s->ns_in_scope + t->n_ns > GH_DOMXML_MAX_NS)
                return gh_error_set(
                        err, -EINVAL,
                        "domain XML line %u: element <%.*s> has more than %d namespaces in scope", t->line,
                        t->name_len, t->name, GH_DOMXML_MAX_NS);
        return 1;
}

/* Up to 64 bytes of the name, cut at a character boundary. */
static int name_shown(const char *name, const char *end)
{
        size_t n = end - name > 64 ? 64 : (size_t)(end - name);

        while (n > 0 && name + n < end && ((unsigned char)name[n] & 0xc0) == 0x80)
                n--;
        return (int)n;
}

static int tag_end(scan *s, const tag *t, const char *gt, bool empty)
{
        if (!empty) {
                s->ns[s->depth++] = (uint16_t)t->n_ns;
                s->ns_in_scope += t->n_ns;
        } else if (s->depth == 0) {
                s->root_done = true;
        }
        scan_to(s, gt + 1);
        return 1;
}

static int scan_start_tag(scan *s, gh_error *err)
{
        const char *e = name_end(s->p + 1, s->end);
        tag t = {.name = s->p + 1, .name_len = name_shown(s->p + 1, e), .line = s->line};
        int r = 1;

        /* After the root element libxml2 stops, with "Extra content at the end of the document". */
        if (s->root_done)
                return scan_stop(s, s->p);
        if (s->depth >= GH_DOMXML_MAX_DEPTH)
                return gh_error_set(err, -EINVAL,
                                    "domain XML line %u: element <%.*s> is nested more than %d deep", t.line,
                                    t.name_len, t.name, GH_DOMXML_MAX_DEPTH);
        r = scan_node(s, err);
        if (r < 0)
                return r;
        scan_to(s, e);
        while (r > 0) {
                const char *q = space_end(s->p, s->end);

                if (q < s->end && *q == '>')
                        return tag_end(s, &t, q, false);
                if (s->end - q >= 2 && q[0] == '/' && q[1] == '>')
                        return tag_end(s, &t, q + 1, true);
                /* XML wants a space before each attribute. */
                if (q == s->end || q == s->p || !is_name_start(*q))
                        return scan_stop(s, q);
                scan_to(s, q);
                r = scan_attr(s, &t);
                if (r > 0)
                        r = tag_check(s, &t, err);
                if (r > 0)
                        r = scan_node(s, err);
        }
        return r;
}

static int scan_markup(scan *s, gh_error *err)
{
        const char *p = s->p;
        size_t left = s->end - p;

        if (left >= 4 && memcmp(p, "<!--", 4) == 0)
                return scan_past(s, 4, "-->", err);
        if (left >= 9 && memcmp(p, "<![CDATA[", 9) == 0)
                return scan_past(s, 9, "]]>", err);
        if (left >= 2 && p[1] == '?')
                return scan_pi(s, err);
        if (left >= 2 && p[1] == '/')
                return scan_end_tag(s);
        if (left >= 2 && is_name_start(p[1]))
                return scan_start_tag(s, err);
        /* A DOCTYPE, which libxml2 is made to stop at, or bad syntax. */
        return scan_stop(s, p);
}

int gh_xml_budget_check(const char *buf, size_t len, gh_xml_budget *ret, gh_error *err)
{
        scan s = {.p = buf, .end = buf + len, .line = 1};
        int r = scan_decl(&s);

        while (r > 0) {
                const char *lt = memchr(s.p, '<', s.end - s.p);

                if (!lt)
                        break;
                scan_to(&s, lt);
                r = scan_markup(&s, err);
        }
        if (r < 0)
                return r;
        *ret = (gh_xml_budget){.parse_len = len};
        if (s.bad && len > SLACK && (size_t)(s.bad - buf) < len - SLACK)
                *ret = (gh_xml_budget){.parse_len = (size_t)(s.bad - buf) + SLACK, .bad_line = s.bad_line};
        return 0;
}
