/* Domain XML to the host PCI devices it asks for. libxml2 runs with no network and no DTD, and any
 * DOCTYPE stops the parse, so entities (bombs, external files) never get a chance to expand. */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "domxml.h"
#include "shared/printable.h"
#include "xml-budget.h"

/* libxml2 2.12 made the error passed to handlers const. */
#if LIBXML_VERSION >= 21200
typedef const xmlError *xml_error_ptr;
#else
typedef xmlError *xml_error_ptr;
#endif

typedef struct parse_state {
        char msg[256]; /* libxml2's first error, without its newline */
        int line;
        int doctype_line; /* > 0 once a DOCTYPE was seen */
} parse_state;

/* Counts each kind of device element so that messages can say "hostdev #2". */
typedef struct walk_state {
        unsigned n_hostdev;
        unsigned n_interface;
} walk_state;

typedef struct addr_attr {
        const char *name;
        size_t offset;
} addr_attr;

static const addr_attr addr_attrs[] = {
        {"domain", offsetof(gh_pci_addr, domain)},
        {"bus", offsetof(gh_pci_addr, bus)},
        {"slot", offsetof(gh_pci_addr, slot)},
        {"function", offsetof(gh_pci_addr, func)},
};

static void xml_free_docp(xmlDocPtr *p)
{
        if (*p)
                xmlFreeDoc(*p);
}

static void xml_free_charp(xmlChar **p)
{
        if (*p)
                xmlFree(*p);
}
#define _cleanup_xml_ _cleanup_(xml_free_charp)

/* libxml2 ends its messages with a newline, and may quote a value that holds one. */
static void msg_set(parse_state *s, const char *message)
{
        char m[sizeof(s->msg)];
        size_t n;

        snprintf(m, sizeof(m), "%s", message);
        n = strlen(m);
        while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == '\r'))
                m[--n] = 0;
        gh_printable(m, s->msg, sizeof(s->msg));
}

/* Set as the context's handler and the global one, both with the parser context as data. Keeps the
 * first error: later ones tend to be its echoes. */
static void on_xml_error(void *data, xml_error_ptr e)
{
        xmlParserCtxtPtr ctxt = data;
        parse_state *s = ctxt ? ctxt->_private : NULL;

        if (!s || !e || e->level < XML_ERR_ERROR || s->msg[0])
                return;
        msg_set(s, e->message ? e->message : "unknown error");
        s->line = e->line;
        /* libxml2 2.9 goes on after an error, and a flood of them (4 MiB of undefined entities) costs
         * seconds: the first is all we report, so end the parse as libxml2 does when it halts. Not
         * xmlStopParser(): it also frees the input, which the function raising the error may still read. */
        ctxt->instate = XML_PARSER_EOF;
        ctxt->disableSAX = 1;
}

static void on_generic_error(void *ctx, const char *msg, ...)
{
}

/* libvirt never writes a DOCTYPE; stopping here means the internal subset is never even read. */
static void on_doctype(void *ctx, const xmlChar *name, const xmlChar *external_id, const xmlChar *system_id)
{
        xmlParserCtxtPtr ctxt = ctx;
        parse_state *s = ctxt->_private;

        s->doctype_line = ctxt->input ? ctxt->input->line : 1;
        if (s->doctype_line <= 0)
                s->doctype_line = 1;
        xmlStopParser(ctxt);
}

static xmlParserCtxtPtr xml_context_new(const char *buf, size_t len, parse_state *s)
{
        xmlParserCtxtPtr ctxt = xmlCreateMemoryParserCtxt(buf, (int)len);

        if (!ctxt)
                return NULL;
        /* Never NOENT, DTDLOAD, DTDATTR or HUGE: entities stay unexpanded and nothing is fetched.
         * IGNORE_ENC: with encoding='UTF-7', "+ADw-" would be a '<' the budget scan never saw. */
        xmlCtxtUseOptions(ctxt, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                                        XML_PARSE_BIG_LINES | XML_PARSE_IGNORE_ENC);
        ctxt->_private = s;
        ctxt->replaceEntities = 0;
        ctxt->loadsubset = 0;
        ctxt->validate = 0;
        ctxt->sax->serror = on_xml_error;
        ctxt->sax->internalSubset = on_doctype;
        ctxt->sax->externalSubset = NULL;
        ctxt->sax->resolveEntity = NULL;
        return ctxt;
}

/* Runs the parser with libxml2's global error channels pointed away from stderr, then puts them back. */
static void xml_parse_quietly(xmlParserCtxtPtr ctxt)
{
        xmlGenericErrorFunc old_generic = xmlGenericError;
        void *old_generic_ctx = xmlGenericErrorContext;
        xmlStructuredErrorFunc old_structured = xmlStructuredError;
        void *old_structured_ctx = xmlStructuredErrorContext;

        xmlSetGenericErrorFunc(ctxt, on_generic_error);
        xmlSetStructuredErrorFunc(ctxt, on_xml_error);
        (void)xmlParseDocument(ctxt);
        xmlSetGenericErrorFunc(old_generic_ctx, old_generic);
        xmlSetStructuredErrorFunc(old_structured_ctx, old_structured);
}

static int xml_read(const char *buf, size_t len, xmlDocPtr *ret, gh_error *err)
{
        parse_state s = {};
        xmlParserCtxtPtr ctxt;
        _cleanup_(xml_free_docp) xmlDocPtr doc = NULL;
        bool well_formed;

        xmlInitParser();
        ctxt = xml_context_new(buf, len, &s);
        if (!ctxt)
                return gh_error_set(err, -ENOMEM, "cannot set up the XML parser");
        xml_parse_quietly(ctxt);
        doc = TAKE_PTR(ctxt->myDoc);
        well_formed = ctxt->wellFormed;
        xmlFreeParserCtxt(ctxt);

        if (s.doctype_line > 0)
                return gh_error_set(
                        err, -EINVAL,
                        "domain XML line %d: a DOCTYPE is not allowed (libvirt never writes one)",
                        s.doctype_line);
        if (!well_formed || !doc || s.msg[0])
                return gh_error_set(err, -EINVAL, "domain XML line %d: %s", s.line,
                                    s.msg[0] ? s.msg : "not well-formed");
        *ret = TAKE_PTR(doc);
        return 0;
}

/* Namespaced elements (qemu:commandline, metadata) never count as libvirt's own. */
static bool is_element(const xmlNode *n, const char *name)
{
        return n && n->type == XML_ELEMENT_NODE && !n->ns && streq((const char *)n->name, name);
}

static xmlNode *child_element(const xmlNode *n, const char *name)
{
        for (xmlNode *c = n->children; c; c = c->next)
                if (is_element(c, name))
                        return c;
        return NULL;
}

static bool attr_is(const xmlNode *n, const char *attr, const char *value)
{
        _cleanup_xml_ xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)attr);

        return v && streq((const char *)v, value);
}

/* Like libvirt: strtoul with base 0 (0x-hex, 0-octal or decimal), but nothing before or after the digits. */
static int parse_number(const char *s, unsigned *ret)
{
        unsigned long v;
        char *end;

        if (!s || !(s[0] >= '0' && s[0] <= '9'))
                return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 0);
        if (errno != 0 || *end || v > UINT_MAX)
                return -EINVAL;
        *ret = (unsigned)v;
        return 0;
}

static unsigned *addr_field(gh_pci_addr *a, const addr_attr *attr)
{
        return (unsigned *)((char *)a + attr->offset);
}

static int parse_addr_attr(const xmlNode *address, const addr_attr *attr, const char *label,
                           gh_pci_addr *addr, gh_error *err)
{
        _cleanup_xml_ xmlChar *v = xmlGetNoNsProp(address, (const xmlChar *)attr->name);
        gh_pci_addr probe = {};
        unsigned n;
        int r;

        if (!v)
                return gh_error_set(err, -EINVAL, "%s: missing %s in <source><address>", label, attr->name);
        r = parse_number((const char *)v, &n);
        if (r >= 0) {
                /* With only this field set, gh_pci_addr_valid judges this one attribute. */
                *addr_field(&probe, attr) = n;
                if (!gh_pci_addr_valid(&probe))
                        r = -ERANGE;
        }
        if (r < 0)
                return gh_error_set(err, -EINVAL, "%s: bad %s '%s' in <source><address>", label, attr->name,
                                    GH_PRINTABLE((const char *)v));
        *addr_field(addr, attr) = n;
        return 0;
}

static int parse_source_address(const xmlNode *dev, const char *label, gh_pci_addr *ret, gh_error *err)
{
        const xmlNode *source = child_element(dev, "source"), *address;
        _cleanup_xml_ xmlChar *type = NULL;
        gh_pci_addr a = {};
        int r;

        if (!source)
                return gh_error_set(err, -EINVAL, "%s: no <source>", label);
        address = child_element(source, "address");
        if (!address)
                return gh_error_set(err, -EINVAL, "%s: no <address> in <source>", label);
        type = xmlGetNoNsProp(address, (const xmlChar *)"type");
        if (type && !streq((const char *)type, "pci"))
                return gh_error_set(err, -EINVAL, "%s: address type '%s' in <source> is not 'pci'", label,
                                    GH_PRINTABLE((const char *)type));
        for (size_t i = 0; i < ELEMENTSOF(addr_attrs); i++) {
                r = parse_addr_attr(address, &addr_attrs[i], label, &a, err);
                if (r < 0)
                        return r;
        }
        *ret = a;
        return 0;
}

static int domain_add(gh_domain *d, const gh_hostdev *h, const char *label, gh_error *err)
{
        gh_hostdev *n;

        for (size_t i = 0; i < d->n_hostdevs; i++)
                if (gh_pci_addr_eq(&d->hostdevs[i].addr, &h->addr))
                        return gh_error_set(err, -EINVAL, "%s: host device %s is given twice", label,
                                            GH_PCI_ADDR_STR(&h->addr));
        n = reallocarray(d->hostdevs, d->n_hostdevs + 1, sizeof(*n));
        if (!n)
                return -ENOMEM;
        n[d->n_hostdevs++] = *h;
        d->hostdevs = n;
        return 0;
}

static int parse_device(gh_domain *d, const xmlNode *n, gh_hostdev_kind kind, unsigned index, gh_error *err)
{
        char label[64];
        gh_hostdev h = {.kind = kind};
        int r;

        snprintf(label, sizeof(label), "%s #%u (line %ld)", kind == GH_HOSTDEV_PCI ? "hostdev" : "interface",
                 index, xmlGetLineNo(n));
        r = parse_source_address(n, label, &h.addr, err);
        if (r < 0)
                return r;
        h.managed = attr_is(n, "managed", "yes");
        return domain_add(d, &h, label, err);
}

/* Only subsystem PCI hostdevs are host PCI functions; USB, SCSI, scsi_host, mdev and capabilities
 * hostdevs are not. libvirt takes a missing mode as 'subsystem'. */
static bool hostdev_is_pci(const xmlNode *n)
{
        _cleanup_xml_ xmlChar *mode = xmlGetNoNsProp(n, (const xmlChar *)"mode");

        if (mode && !streq((const char *)mode, "subsystem"))
                return false;
        return attr_is(n, "type", "pci");
}

static int parse_devices(gh_domain *d, const xmlNode *devices, walk_state *w, gh_error *err)
{
        int r = 0;

        for (const xmlNode *c = devices->children; c && r >= 0; c = c->next) {
                if (is_element(c, "hostdev")) {
                        w->n_hostdev++;
                        if (hostdev_is_pci(c))
                                r = parse_device(d, c, GH_HOSTDEV_PCI, w->n_hostdev, err);
                } else if (is_element(c, "interface")) {
                        w->n_interface++;
                        if (attr_is(c, "type", "hostdev"))
                                r = parse_device(d, c, GH_HOSTDEV_INTERFACE, w->n_interface, err);
                }
        }
        return r;
}

static int parse_name(gh_domain *d, const xmlNode *root)
{
        const xmlNode *name = child_element(root, "name");
        _cleanup_xml_ xmlChar *v = NULL;

        if (!name)
                return 0;
        v = xmlNodeGetContent(name);
        /* A malloc'd copy: xmlFree need not be free(). */
        d->name = v ? strdup((const char *)v) : NULL;
        return d->name ? 0 : -ENOMEM;
}

static int parse_domain(const xmlNode *root, gh_domain *d, gh_error *err)
{
        walk_state w = {};
        int r;

        if (!root)
                return gh_error_set(err, -EINVAL, "domain XML has no root element");
        if (root->ns)
                return gh_error_set(err, -EINVAL,
                                    "domain XML line %ld: root element <%s> is in namespace '%s'",
                                    xmlGetLineNo(root), (const char *)root->name,
                                    strempty((const char *)root->ns->href));
        if (!is_element(root, "domain"))
                return gh_error_set(err, -EINVAL, "domain XML line %ld: root element is <%s>, not <domain>",
                                    xmlGetLineNo(root), (const char *)root->name);
        r = parse_name(d, root);
        if (r < 0)
                return r;
        for (const xmlNode *c = root->children; c; c = c->next) {
                if (!is_element(c, "devices"))
                        continue;
                r = parse_devices(d, c, &w, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* libxml2 reads only what the budget scan vouched for. When that is not all, libxml2 has mostly found the
 * syntax bad; when it has not (the scan is stricter, as with a non-ASCII processing instruction), refuse
 * rather than accept a cut document. */
static int xml_read_budgeted(const char *buf, size_t len, xmlDocPtr *ret, gh_error *err)
{
        _cleanup_(xml_free_docp) xmlDocPtr doc = NULL;
        gh_xml_budget b;
        int r;

        r = gh_xml_budget_check(buf, len, &b, err);
        if (r < 0)
                return r;
        r = xml_read(buf, b.parse_len, &doc, err);
        if (r < 0)
                return r;
        if (b.parse_len < len)
                return gh_error_set(
                        err, -EINVAL,
                        "domain XML line %u: markup the size checks cannot follow (libvirt never writes it)",
                        b.bad_line);
        *ret = TAKE_PTR(doc);
        return 0;
}

int gh_domxml_parse(const char *buf, size_t len, gh_domain *ret, gh_error *err)
{
        _cleanup_(xml_free_docp) xmlDocPtr doc = NULL;
        _cleanup_(gh_domain_done) gh_domain d = {};
        int r;

        if (len > GH_DOMXML_MAX)
                return gh_error_set(err, -EFBIG, "domain XML is %zu bytes, more than the %zu allowed", len,
                                    GH_DOMXML_MAX);
        if (!buf || len == 0)
                return gh_error_set(err, -EINVAL, "domain XML is empty");
        r = xml_read_budgeted(buf, len, &doc, err);
        if (r < 0)
                return r;
        r = parse_domain(xmlDocGetRootElement(doc), &d, err);
        if (r < 0)
                return r;
        *ret = d;
        d = (gh_domain){};
        return 0;
}

const char *gh_domxml_read_error(int r)
{
        if (r == -EFBIG)
                return "larger than 4 MiB";
        if (r == -EBADFD)
                return "not a regular file";
        return strerror(-r);
}

void gh_domain_done(gh_domain *d)
{
        if (!d)
                return;
        free(d->name);
        free(d->hostdevs);
        *d = (gh_domain){};
}
