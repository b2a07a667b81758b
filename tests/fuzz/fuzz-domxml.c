/* Domain XML: any bytes give a domain or one error line, never a crash or a leak. A domain accepted has
 * valid, distinct host addresses, and libxml2's tree of it stays within the limits that the budget
 * pre-scan claims to enforce (the scan must never count less than libxml2 parses). */
#include <errno.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "core/domxml.h"
#include "core/xml-budget.h"
#include "fuzz.h"

typedef struct tree_counts {
        unsigned max_depth;
        unsigned max_attrs;
        unsigned max_ns; /* namespace declarations in scope at any element */
} tree_counts;

static unsigned count_attrs(const xmlAttr *a)
{
        unsigned n = 0;

        for (; a; a = a->next)
                n++;
        return n;
}

static unsigned count_ns(const xmlNs *ns)
{
        unsigned n = 0;

        for (; ns; ns = ns->next)
                n++;
        return n;
}

static void count_element(const xmlNode *e, unsigned depth, unsigned ns, tree_counts *c)
{
        unsigned attrs = count_attrs(e->properties);

        ns += count_ns(e->nsDef);
        c->max_depth = depth > c->max_depth ? depth : c->max_depth;
        c->max_attrs = attrs > c->max_attrs ? attrs : c->max_attrs;
        c->max_ns = ns > c->max_ns ? ns : c->max_ns;
        for (const xmlNode *k = e->children; k; k = k->next)
                if (k->type == XML_ELEMENT_NODE)
                        count_element(k, depth + 1, ns, c);
}

/* The same options as the parser's own context: no network, no entity expansion, the encoding ignored. */
static void check_tree_within_budget(const uint8_t *data, size_t size)
{
        xmlDocPtr doc = xmlReadMemory((const char *)data, (int)size, NULL, NULL,
                                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                                              XML_PARSE_BIG_LINES | XML_PARSE_IGNORE_ENC);
        tree_counts c = {};

        fuzz_check(doc);
        count_element(xmlDocGetRootElement(doc), 1, 0, &c);
        xmlFreeDoc(doc);
        fuzz_check(c.max_depth <= GH_DOMXML_MAX_DEPTH);
        fuzz_check(c.max_attrs <= GH_DOMXML_MAX_ATTRS);
        fuzz_check(c.max_ns <= GH_DOMXML_MAX_NS);
}

static void check_domain(const gh_domain *d)
{
        for (size_t i = 0; i < d->n_hostdevs; i++) {
                const gh_hostdev *h = &d->hostdevs[i];

                fuzz_check(gh_pci_addr_valid(&h->addr));
                fuzz_check(h->kind == GH_HOSTDEV_PCI || h->kind == GH_HOSTDEV_INTERFACE);
                for (size_t j = 0; j < i; j++)
                        fuzz_check(!gh_pci_addr_eq(&d->hostdevs[j].addr, &h->addr));
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_(gh_domain_done) gh_domain d = {};
        gh_error err = {};
        gh_xml_budget b;
        int r = gh_domxml_parse((const char *)data, size, &d, &err);

        if (r < 0) {
                fuzz_check(r == -EINVAL || r == -EFBIG || r == -ENOMEM);
                /* The hook prints this as its one line on stderr. */
                fuzz_check(gh_error_isset(&err) && !strchr(err.msg, '\n'));
                return 0;
        }
        fuzz_check(!gh_error_isset(&err));
        check_domain(&d);
        fuzz_check(gh_xml_budget_check((const char *)data, size, &b, NULL) == 0 && b.parse_len == size);
        check_tree_within_budget(data, size);
        return 0;
}
