/* Domain XML parsing: what is taken, what is skipped, and what is refused (with which message). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <cmocka.h>

#include "core/domxml.h"
#include "core/xml-budget.h"
#include "shared/fileio.h"

static char *fixture(const char *name, size_t *ret_len)
{
        _cleanup_free_ char *path = NULL;
        char *buf = NULL;

        assert_true(asprintf(&path, "%s/xml/%s", GH_FIXTURES, name) > 0);
        assert_int_equal(read_full_file(path, GH_DOMXML_MAX, &buf, ret_len), 0);
        return buf;
}

static int parse_string(const char *xml, gh_domain *ret, gh_error *err)
{
        return gh_domxml_parse(xml, strlen(xml), ret, err);
}

static void assert_hostdev(const gh_hostdev *h, const char *addr, gh_hostdev_kind kind, bool managed)
{
        assert_string_equal(GH_PCI_ADDR_STR(&h->addr), addr);
        assert_int_equal(h->kind, kind);
        assert_int_equal(h->managed, managed);
}

/* Parses, expects failure r, and checks that the message is exactly msg. */
static void assert_refused(const char *xml, size_t len, int r, const char *msg)
{
        gh_domain d = {.name = (char *)"untouched"};
        gh_error err = {};

        assert_int_equal(gh_domxml_parse(xml, len, &d, &err), r);
        assert_int_equal(err.code, r);
        assert_string_equal(err.msg, msg);
        /* ret is written only on success. */
        assert_string_equal(d.name, "untouched");
        assert_null(d.hostdevs);
}

static void test_full_domain(void **state)
{
        size_t len;
        _cleanup_free_ char *xml = fixture("win11.xml", &len);
        _cleanup_(gh_domain_done) gh_domain d = {};
        gh_error err = {};

        assert_int_equal(gh_domxml_parse(xml, len, &d, &err), 0);
        assert_false(gh_error_isset(&err));
        assert_string_equal(d.name, "win11");
        /* Document order: libvirt writes interfaces before hostdevs. */
        assert_int_equal(d.n_hostdevs, 4);
        assert_hostdev(&d.hostdevs[0], "0000:03:10.2", GH_HOSTDEV_INTERFACE, true);
        assert_hostdev(&d.hostdevs[1], "0000:01:00.0", GH_HOSTDEV_PCI, true);
        assert_hostdev(&d.hostdevs[2], "0000:01:00.1", GH_HOSTDEV_PCI, true);
        assert_hostdev(&d.hostdevs[3], "0000:0a:00.0", GH_HOSTDEV_PCI, false);
}

/* win11-test-driver.xml is what libvirt 9.0 itself wrote for win11.xml (test:///default driver, `virsh
 * define` then `dumpxml`, after dropping what that driver refuses): its formatter, the same answer. */
static void test_libvirt_formatted(void **state)
{
        size_t len;
        _cleanup_free_ char *xml = fixture("win11-test-driver.xml", &len);
        _cleanup_(gh_domain_done) gh_domain d = {};

        assert_int_equal(gh_domxml_parse(xml, len, &d, NULL), 0);
        assert_string_equal(d.name, "win11");
        assert_int_equal(d.n_hostdevs, 4);
        assert_hostdev(&d.hostdevs[0], "0000:03:10.2", GH_HOSTDEV_INTERFACE, true);
        assert_hostdev(&d.hostdevs[1], "0000:01:00.0", GH_HOSTDEV_PCI, true);
        assert_hostdev(&d.hostdevs[2], "0000:01:00.1", GH_HOSTDEV_PCI, true);
        assert_hostdev(&d.hostdevs[3], "0000:0a:00.0", GH_HOSTDEV_PCI, false);
}

/* Every guest-side <address type='pci'> in the fixture: none of them is a host device. */
static void test_guest_addresses_ignored(void **state)
{
        static const char *const guest[] = {"0000:04:00.0", "0000:05:00.0", "0000:05:00.1", "0000:06:00.0",
                                            "0000:07:00.0", "0000:08:00.0", "0000:09:00.0", "0000:02:00.0",
                                            "0000:03:00.0", "0000:00:1f.2", "0000:00:02.0", "0000:00:03.0"};
        size_t len;
        _cleanup_free_ char *xml = fixture("win11.xml", &len);
        _cleanup_(gh_domain_done) gh_domain d = {};

        assert_int_equal(gh_domxml_parse(xml, len, &d, NULL), 0);
        for (size_t i = 0; i < d.n_hostdevs; i++)
                for (size_t j = 0; j < ELEMENTSOF(guest); j++)
                        assert_string_not_equal(GH_PCI_ADDR_STR(&d.hostdevs[i].addr), guest[j]);
}

#define ONE_HOSTDEV(open, source)                                                                           \
        "<domain type='kvm'>\n"                                                                             \
        "  <name>t</name>\n"                                                                                \
        "  <devices>\n"                                                                                     \
        "    " open "\n"                                                                                    \
        "      <source>\n"                                                                                  \
        "        " source "\n"                                                                              \
        "      </source>\n"                                                                                 \
        "      <address type='pci' domain='0x0000' bus='0x05' slot='0x00' function='0x0'/>\n"               \
        "    </hostdev>\n"                                                                                  \
        "  </devices>\n"                                                                                    \
        "</domain>\n"

#define PCI_SOURCE "<address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>"

/* Each kind that is not a host PCI function is skipped, even with a PCI-looking source address. */
static void test_skipped_kinds(void **state)
{
        static const char *const docs[] = {
                ONE_HOSTDEV("<hostdev mode='subsystem' type='usb' managed='yes'>",
                            "<vendor id='0x046d'/><product id='0xc52b'/>"),
                ONE_HOSTDEV("<hostdev mode='subsystem' type='usb' managed='no'>",
                            "<address bus='1' device='7'/>"),
                ONE_HOSTDEV("<hostdev mode='subsystem' type='scsi' managed='no'>",
                            "<adapter name='scsi_host0'/><address bus='0' target='0' unit='0'/>"),
                ONE_HOSTDEV("<hostdev mode='subsystem' type='scsi_host' managed='no'>", "<vendor id='1'/>"),
                ONE_HOSTDEV("<hostdev mode='subsystem' type='mdev' model='vfio-pci'>",
                            "<address uuid='c2177883-f1bb-47f0-914d-32a22e3a8804'/>"),
                ONE_HOSTDEV("<hostdev mode='capabilities' type='pci'>", PCI_SOURCE),
                ONE_HOSTDEV("<hostdev mode='capabilities' type='storage'>", "<block>/dev/sdf1</block>"),
        };

        for (size_t i = 0; i < ELEMENTSOF(docs); i++) {
                _cleanup_(gh_domain_done) gh_domain d = {};
                gh_error err = {};

                assert_int_equal(parse_string(docs[i], &d, &err), 0);
                assert_false(gh_error_isset(&err));
                assert_string_equal(d.name, "t");
                assert_int_equal(d.n_hostdevs, 0);
        }
}

/* The same source under a subsystem PCI hostdev is taken: the skips above are about the kind. */
static void test_subsystem_pci_taken(void **state)
{
        _cleanup_(gh_domain_done) gh_domain d = {}, d2 = {};

        assert_int_equal(
                parse_string(ONE_HOSTDEV("<hostdev mode='subsystem' type='pci'>", PCI_SOURCE), &d, NULL), 0);
        assert_int_equal(d.n_hostdevs, 1);
        assert_hostdev(&d.hostdevs[0], "0000:01:00.0", GH_HOSTDEV_PCI, false);
        /* libvirt reads a missing mode as 'subsystem'. */
        assert_int_equal(
                parse_string(ONE_HOSTDEV("<hostdev type='pci' managed='yes'>", PCI_SOURCE), &d2, NULL), 0);
        assert_int_equal(d2.n_hostdevs, 1);
        assert_hostdev(&d2.hostdevs[0], "0000:01:00.0", GH_HOSTDEV_PCI, true);
}

#define TWO_HOSTDEVS(attrs)                                                                                 \
        "<domain type='kvm'>\n"                                                                             \
        "  <name>t</name>\n"                                                                                \
        "  <devices>\n"                                                                                     \
        "    <hostdev mode='subsystem' type='pci' managed='yes'>\n"                                         \
        "      <source>\n"                                                                                  \
        "        <address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>\n"                        \
        "      </source>\n"                                                                                 \
        "    </hostdev>\n"                                                                                  \
        "    <hostdev mode='subsystem' type='pci' managed='yes'>\n"                                         \
        "      <source>\n"                                                                                  \
        "        <address " attrs "/>\n"                                                                    \
        "      </source>\n"                                                                                 \
        "      <address type='pci' domain='0x0000' bus='0x06' slot='0x00' function='0x0'/>\n"               \
        "    </hostdev>\n"                                                                                  \
        "  </devices>\n"                                                                                    \
        "</domain>\n"

typedef struct attr_case {
        const char *xml;
        const char *msg;
} attr_case;

#define BAD(attrs, what)                                                                                    \
        {                                                                                                   \
                TWO_HOSTDEVS(attrs), "hostdev #2 (line 9): " what " in <source><address>"                   \
        }

static void test_bad_attributes(void **state)
{
        static const attr_case cases[] = {
                BAD("domain='0x0000' bus='0x1ff' slot='0x00' function='0x0'", "bad bus '0x1ff'"),
                BAD("domain='0x10000' bus='0x02' slot='0x00' function='0x0'", "bad domain '0x10000'"),
                BAD("domain='0x0000' bus='0x02' slot='0x20' function='0x0'", "bad slot '0x20'"),
                BAD("domain='0x0000' bus='0x02' slot='32' function='0x0'", "bad slot '32'"),
                BAD("domain='0x0000' bus='0x02' slot='0x00' function='0x8'", "bad function '0x8'"),
                BAD("domain='0x0000' bus='256' slot='0x00' function='0x0'", "bad bus '256'"),
                BAD("domain='0x0000' bus='-1' slot='0x00' function='0x0'", "bad bus '-1'"),
                BAD("domain='0x0000' bus='+1' slot='0x00' function='0x0'", "bad bus '+1'"),
                BAD("domain='0x0000' bus='' slot='0x00' function='0x0'", "bad bus ''"),
                BAD("domain='0x0000' bus='zz' slot='0x00' function='0x0'", "bad bus 'zz'"),
                BAD("domain='0x0000' bus='0x' slot='0x00' function='0x0'", "bad bus '0x'"),
                BAD("domain='0x0000' bus=' 1' slot='0x00' function='0x0'", "bad bus ' 1'"),
                BAD("domain='0x0000' bus='1 ' slot='0x00' function='0x0'", "bad bus '1 '"),
                BAD("domain='0x0000' bus='08' slot='0x00' function='0x0'", "bad bus '08'"),
                BAD("domain='0x0000' bus='0x100000001' slot='0x00' function='0x0'", "bad bus '0x100000001'"),
                BAD("domain='99999999999999999999999' bus='0x01' slot='0x00' function='0x0'",
                    "bad domain '99999999999999999999999'"),
                BAD("bus='0x02' slot='0x00' function='0x0'", "missing domain"),
                BAD("domain='0x0000' slot='0x00' function='0x0'", "missing bus"),
                BAD("domain='0x0000' bus='0x02' function='0x0'", "missing slot"),
                BAD("domain='0x0000' bus='0x02' slot='0x00'", "missing function"),
                {TWO_HOSTDEVS("type='usb' bus='1' device='2'"),
                 "hostdev #2 (line 9): address type 'usb' in <source> is not 'pci'"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                assert_refused(cases[i].xml, strlen(cases[i].xml), -EINVAL, cases[i].msg);
}

/* A value quoted in a message is shown with its control characters escaped: the message stays one line,
 * and nothing raw reaches the terminal. */
static void test_control_characters_escaped(void **state)
{
        static const attr_case cases[] = {
                BAD("domain='0' bus='&#10;0x100' slot='0' function='0'", "bad bus '\\x0a0x100'"),
                BAD("domain='0' bus='0x100&#13;' slot='0' function='0'", "bad bus '0x100\\x0d'"),
                {TWO_HOSTDEVS("type='&#9;usb&#127;' bus='1' device='2'"),
                 "hostdev #2 (line 9): address type '\\x09usb\\x7f' in <source> is not 'pci'"},
        };
        const char *ns = "<domain xmlns='urn:&#10;x&#127;'><name>t</name></domain>";

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                assert_refused(cases[i].xml, strlen(cases[i].xml), -EINVAL, cases[i].msg);
        /* libxml2's own message quotes the value too. */
        assert_refused(ns, strlen(ns), -EINVAL,
                       "domain XML line 1: xmlns: 'urn:\\x0ax\\x7f' is not a valid URI");
}

typedef struct good_case {
        const char *xml;
        const char *addr;
} good_case;

/* libvirt writes 0x-hex but reads any strtoul base-0 number, so must we. */
static void test_number_forms(void **state)
{
        static const good_case cases[] = {
                {TWO_HOSTDEVS("domain='0' bus='2' slot='31' function='7'"), "0000:02:1f.7"},
                {TWO_HOSTDEVS("domain='0x0000' bus='010' slot='0x00' function='0x0'"), "0000:08:00.0"},
                {TWO_HOSTDEVS("domain='0X0000' bus='0XAb' slot='0X1F' function='0x1'"), "0000:ab:1f.1"},
                {TWO_HOSTDEVS("domain='0xffff' bus='0xff' slot='0x1f' function='0x7'"), "ffff:ff:1f.7"},
                {TWO_HOSTDEVS("type='pci' domain='0x0001' bus='0x00002' slot='0x3' function='0'"),
                 "0001:02:03.0"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(gh_domain_done) gh_domain d = {};

                assert_int_equal(parse_string(cases[i].xml, &d, NULL), 0);
                assert_int_equal(d.n_hostdevs, 2);
                assert_hostdev(&d.hostdevs[0], "0000:01:00.0", GH_HOSTDEV_PCI, true);
                assert_hostdev(&d.hostdevs[1], cases[i].addr, GH_HOSTDEV_PCI, true);
        }
}

static void test_no_source(void **state)
{
        size_t len;
        _cleanup_free_ char *xml = fixture("no-source.xml", &len);

        assert_refused(xml, len, -EINVAL, "hostdev #2 (line 13): no <source>");
}

static void test_no_source_address(void **state)
{
        const char *xml =
                ONE_HOSTDEV("<hostdev mode='subsystem' type='pci' managed='yes'>", "<vendor id='0x10de'/>");

        assert_refused(xml, strlen(xml), -EINVAL, "hostdev #1 (line 4): no <address> in <source>");
}

#define INTERFACES(second)                                                                                  \
        "<domain type='kvm'>\n"                                                                             \
        "  <name>nic</name>\n"                                                                              \
        "  <devices>\n"                                                                                     \
        "    <interface type='network'>\n"                                                                  \
        "      <source network='default'/>\n"                                                               \
        "      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>\n"               \
        "    </interface>\n"                                                                                \
        "    <interface type='hostdev'>\n"                                                                  \
        "      <mac address='52:54:00:6d:90:02'/>\n"                                                        \
        "      <source>\n"                                                                                  \
        "        " second "\n"                                                                              \
        "      </source>\n"                                                                                 \
        "      <address type='pci' domain='0x0000' bus='0x02' slot='0x00' function='0x0'/>\n"               \
        "    </interface>\n"                                                                                \
        "  </devices>\n"                                                                                    \
        "</domain>\n"

static void test_interface_hostdev(void **state)
{
        _cleanup_(gh_domain_done) gh_domain d = {};
        const char *bad = INTERFACES("<address type='pci' domain='0x0000' bus='0x03' slot='0x10'/>");

        assert_int_equal(parse_string(INTERFACES("<address type='pci' domain='0x0000' bus='0x03' "
                                                 "slot='0x10' function='0x2'/>"),
                                      &d, NULL),
                         0);
        assert_string_equal(d.name, "nic");
        assert_int_equal(d.n_hostdevs, 1);
        assert_hostdev(&d.hostdevs[0], "0000:03:10.2", GH_HOSTDEV_INTERFACE, false);
        /* Counted among all <interface> elements, as a reader of the XML counts them. */
        assert_refused(bad, strlen(bad), -EINVAL,
                       "interface #2 (line 8): missing function in <source><address>");
}

static void test_duplicate(void **state)
{
        size_t len;
        _cleanup_free_ char *xml = fixture("duplicate.xml", &len);
        const char *mixed =
                INTERFACES("<address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>");

        /* 0x0000:0x01 and 0:1 are the same device. */
        assert_refused(xml, len, -EINVAL, "hostdev #3 (line 22): host device 0000:01:00.0 is given twice");
        /* The guest address of the first interface is not a host device, so this one is no duplicate. */
        _cleanup_(gh_domain_done) gh_domain d = {};
        assert_int_equal(parse_string(mixed, &d, NULL), 0);
        assert_int_equal(d.n_hostdevs, 1);
}

static void test_duplicate_across_kinds(void **state)
{
        const char *xml =
                "<domain type='kvm'>\n"
                "  <name>t</name>\n"
                "  <devices>\n"
                "    <interface type='hostdev' managed='yes'>\n"
                "      <source><address type='pci' domain='0' bus='3' slot='0x10' function='2'/></source>\n"
                "    </interface>\n"
                "    <hostdev mode='subsystem' type='pci' managed='yes'>\n"
                "      <source><address domain='0' bus='3' slot='16' function='2'/></source>\n"
                "    </hostdev>\n"
                "  </devices>\n"
                "</domain>\n";

        assert_refused(xml, strlen(xml), -EINVAL,
                       "hostdev #1 (line 7): host device 0000:03:10.2 is given twice");
}

static void test_malformed(void **state)
{
        size_t len;
        _cleanup_free_ char *xml = fixture("malformed.xml", &len);
        gh_domain d = {};
        gh_error err = {};

        assert_int_equal(gh_domxml_parse(xml, len, &d, &err), -EINVAL);
        assert_int_equal(err.code, -EINVAL);
        /* libxml2 words the message; the line is ours to promise. */
        assert_true(startswith(err.msg, "domain XML line 10: "));
        assert_non_null(strstr(err.msg, "devices"));
        assert_null(strchr(err.msg, '\n'));
}

static void test_truncated_and_empty(void **state)
{
        const char *xml = "<domain type='kvm'>\n  <name>t</name>\n  <devices>\n";
        gh_error err = {};
        gh_domain d = {};

        assert_int_equal(gh_domxml_parse(xml, strlen(xml), &d, &err), -EINVAL);
        assert_true(startswith(err.msg, "domain XML line "));
        err = (gh_error){};
        assert_refused("", 0, -EINVAL, "domain XML is empty");
        assert_int_equal(gh_domxml_parse("   \n", 4, &d, &err), -EINVAL);
        assert_true(startswith(err.msg, "domain XML line "));
}

/* Without a DTD an entity reference cannot resolve: malformed, and nothing is read. */
static void test_undeclared_entity(void **state)
{
        const char *xml = "<domain type='kvm'>\n  <name>&xxe;</name>\n</domain>\n";
        gh_error err = {};
        gh_domain d = {};

        assert_int_equal(gh_domxml_parse(xml, strlen(xml), &d, &err), -EINVAL);
        assert_true(startswith(err.msg, "domain XML line 2: "));
        assert_non_null(strstr(err.msg, "xxe"));
}

static void test_entity_bomb(void **state)
{
        size_t len;
        _cleanup_free_ char *xml = fixture("entity-bomb.xml", &len);

        assert_refused(xml, len, -EINVAL,
                       "domain XML line 2: a DOCTYPE is not allowed (libvirt never writes one)");
}

static void test_external_entity(void **state)
{
        size_t len;
        _cleanup_free_ char *xml = fixture("external-entity.xml", &len);
        _cleanup_free_ char *dtd = fixture("external-dtd.xml", &len);

        assert_refused(xml, strlen(xml), -EINVAL,
                       "domain XML line 1: a DOCTYPE is not allowed (libvirt never writes one)");
        assert_refused(dtd, strlen(dtd), -EINVAL,
                       "domain XML line 2: a DOCTYPE is not allowed (libvirt never writes one)");
}

static void test_not_domain(void **state)
{
        size_t len;
        _cleanup_free_ char *xml = fixture("not-domain.xml", &len);
        const char *ns = "<x:domain xmlns:x='urn:x'><name>t</name></x:domain>";

        assert_refused(xml, len, -EINVAL, "domain XML line 1: root element is <network>, not <domain>");
        assert_refused(ns, strlen(ns), -EINVAL,
                       "domain XML line 1: root element <domain> is in namespace 'urn:x'");
}

/* A domain padded with a comment to exactly n bytes. */
static char *padded_domain(size_t n)
{
        static const char head[] = "<domain type='kvm'><name>big</name><devices>"
                                   "<hostdev mode='subsystem' type='pci'><source>"
                                   "<address domain='0' bus='1' slot='0' function='0'/></source></hostdev>"
                                   "</devices><!--";
        static const char tail[] = "--></domain>";
        char *buf = malloc(n);

        assert_non_null(buf);
        memcpy(buf, head, strlen(head));
        memset(buf + strlen(head), 'x', n - strlen(head) - strlen(tail));
        memcpy(buf + n - strlen(tail), tail, strlen(tail));
        return buf;
}

static void test_size_limit(void **state)
{
        _cleanup_free_ char *at = padded_domain(GH_DOMXML_MAX), *over = padded_domain(GH_DOMXML_MAX + 1);
        _cleanup_(gh_domain_done) gh_domain d = {};
        gh_error err = {};
        char msg[128];

        assert_int_equal(gh_domxml_parse(at, GH_DOMXML_MAX, &d, NULL), 0);
        assert_int_equal(d.n_hostdevs, 1);
        snprintf(msg, sizeof(msg), "domain XML is %zu bytes, more than the %zu allowed", GH_DOMXML_MAX + 1,
                 GH_DOMXML_MAX);
        assert_refused(over, GH_DOMXML_MAX + 1, -EFBIG, msg);
        /* Refused before anything is read: a NULL buffer with a huge length is safe. */
        assert_int_equal(gh_domxml_parse(NULL, SIZE_MAX, &d, &err), -EFBIG);
}

static void test_no_name(void **state)
{
        const char *xml = "<domain type='kvm'><devices/></domain>";
        _cleanup_(gh_domain_done) gh_domain d = {};

        assert_int_equal(parse_string(xml, &d, NULL), 0);
        assert_null(d.name);
        assert_int_equal(d.n_hostdevs, 0);
        gh_domain_done(NULL);
}

/* libxml2 must not write to stderr: the hook's stderr ends up in libvirt's log. */
static void test_nothing_printed(void **state)
{
        static const char *const files[] = {"malformed.xml", "entity-bomb.xml", "external-dtd.xml",
                                            "external-entity.xml", "not-domain.xml"};
        char path[] = "/tmp/test-domxml-stderr.XXXXXX";
        int fd = mkstemp(path), saved = dup(STDERR_FILENO);
        struct stat st;

        assert_true(fd >= 0 && saved >= 0);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                size_t len;
                _cleanup_free_ char *xml = fixture(files[i], &len);
                gh_domain d = {};

                (void)gh_domxml_parse(xml, len, &d, NULL);
        }
        (void)parse_string("<domain><name>&x;</name></domain>", &(gh_domain){}, NULL);
        (void)parse_string("<a:domain/>", &(gh_domain){}, NULL);
        fflush(stderr);
        assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
        assert_int_equal(fstat(fd, &st), 0);
        assert_int_equal(st.st_size, 0);
        close(fd);
        close(saved);
}

/* The first error wins: a message already set is not overwritten. */
static void test_first_error_kept(void **state)
{
        gh_error err = {};
        gh_domain d = {};

        gh_error_set(&err, -EIO, "earlier");
        assert_int_equal(gh_domxml_parse("<nope", 5, &d, &err), -EINVAL);
        assert_string_equal(err.msg, "earlier");
}

/* A growing buffer for the generated documents. */
typedef struct doc {
        char *buf;
        size_t len;
        size_t size;
} doc;

static void doc_add(doc *d, const char *fmt, ...) _printf_(2, 3);
static void doc_add(doc *d, const char *fmt, ...)
{
        _cleanup_free_ char *s = NULL;
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vasprintf(&s, fmt, ap);
        va_end(ap);
        assert_true(n >= 0);
        /* Doubling: realloc copies every time under ASan. */
        if (d->len + n + 1 > d->size) {
                d->size = (d->len + n + 1) * 2;
                d->buf = realloc(d->buf, d->size);
                assert_non_null(d->buf);
        }
        memcpy(d->buf + d->len, s, n + 1);
        d->len += n;
}

static void doc_done(doc *d)
{
        free(d->buf);
}

static double now_ms(clockid_t clock)
{
        struct timespec ts;

        clock_gettime(clock, &ts);
        return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Parses, and says how long it took: a measurement to read, never an assertion. The CPU time is the one
 * to compare: the wall time grows with whatever else the machine runs. */
static int parse_timed(const char *what, const doc *x, gh_domain *ret, gh_error *err)
{
        double wall = now_ms(CLOCK_MONOTONIC), cpu = now_ms(CLOCK_PROCESS_CPUTIME_ID);
        int r = gh_domxml_parse(x->buf, x->len, ret, err);

        print_message("%s (%zu bytes): %s in %.1f ms CPU, %.1f ms wall\n", what, x->len,
                      r < 0 ? "refused" : "accepted", now_ms(CLOCK_PROCESS_CPUTIME_ID) - cpu,
                      now_ms(CLOCK_MONOTONIC) - wall);
        if (r < 0 && err)
                print_message("  %s\n", err->msg);
        return r;
}

/* <domain> with a <metadata> of n attributes, padded up to len bytes with attributes. */
static void attr_bomb(doc *x, unsigned n, size_t len)
{
        doc_add(x, "<domain type='kvm'>\n<name>t</name>\n<metadata");
        for (unsigned i = 0; i < n || x->len < len; i++)
                doc_add(x, " a%x='1'", i);
        doc_add(x, "/>\n</domain>\n");
}

/* The documents that took 54 s (1 MB) and forever (4 MiB) are refused before libxml2 reads them. */
static void test_budget_attribute_bomb(void **state)
{
        static const size_t sizes[] = {1000 * 1000, GH_DOMXML_MAX - 64};

        for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
                _cleanup_(doc_done) doc x = {};
                gh_domain d = {};
                gh_error err = {};

                attr_bomb(&x, 0, sizes[i]);
                assert_int_equal(parse_timed("attributes on one element", &x, &d, &err), -EINVAL);
                assert_string_equal(err.msg,
                                    "domain XML line 3: element <metadata> has more than 256 attributes");
        }
}

static void test_budget_attribute_limit(void **state)
{
        _cleanup_(doc_done) doc at = {}, over = {};
        _cleanup_(gh_domain_done) gh_domain d = {};

        attr_bomb(&at, GH_DOMXML_MAX_ATTRS, 0);
        attr_bomb(&over, GH_DOMXML_MAX_ATTRS + 1, 0);
        assert_int_equal(gh_domxml_parse(at.buf, at.len, &d, NULL), 0);
        assert_string_equal(d.name, "t");
        assert_refused(over.buf, over.len, -EINVAL,
                       "domain XML line 3: element <metadata> has more than 256 attributes");
}

typedef struct tricky_case {
        const char *open;  /* markup that starts a comment, a CDATA section, a PI or a quoted value */
        const char *close; /* and ends it */
        char quote;        /* the quote of the fake attributes in between */
        bool in_tag;       /* a value of <e>, counted as one of its attributes, or markup after <e> */
} tricky_case;

/* <e> with n attributes; and inside the case's markup, in the tag or after it, more than the limit of fake
 * attributes, on a fake element where they are after the tag. */
static void tricky_doc(doc *x, const tricky_case *c, unsigned n)
{
        doc_add(x, "<domain type='kvm'>\n<name>t</name>\n<e a0='0'");
        if (c->in_tag)
                doc_add(x, "%s", c->open);
        for (unsigned i = c->in_tag ? 0 : GH_DOMXML_MAX_ATTRS + 1; i <= GH_DOMXML_MAX_ATTRS; i++)
                doc_add(x, " b%x=%c1%c", i, c->quote, c->quote);
        if (c->in_tag)
                doc_add(x, "%s", c->close);
        for (unsigned i = 1 + c->in_tag; i < n; i++)
                doc_add(x, " a%x='1'", i);
        doc_add(x, "/>");
        if (!c->in_tag) {
                doc_add(x, "%s", c->open);
                for (unsigned i = 0; i <= GH_DOMXML_MAX_ATTRS; i++)
                        doc_add(x, " b%x=%c1%c", i, c->quote, c->quote);
                doc_add(x, "%s", c->close);
        }
        doc_add(x, "\n</domain>\n");
}

/* What is in a comment, a CDATA section, a processing instruction or a quoted value is no attribute, and no
 * '>', '/>', '=', '?>', '-->', ']]>' or quote of the other kind inside a value ends it. Counted right, <e>
 * is taken at the limit and refused one past it; counted wrong, the fake attributes are over the limit. */
static void test_budget_tricky_syntax(void **state)
{
        static const tricky_case cases[] = {
                {"<!-- <x", "/> -->", '\'', false},
                {"<!----><!-- <x", "/> - > -> /> -->", '"', false},
                {"<![CDATA[<x", "/> ]]]]><![CDATA[]]>", '\'', false},
                {"<?pi <x", "/> ?>", '"', false},
                {" q=\"'>/>=?>-->]]>", "\"", '\'', true},
                {" q='\"\n>\n", "\n/>'", '"', true},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                for (unsigned over = 0; over <= 1; over++) {
                        _cleanup_(doc_done) doc x = {};
                        _cleanup_(gh_domain_done) gh_domain d = {};
                        gh_error err = {};

                        tricky_doc(&x, &cases[i], GH_DOMXML_MAX_ATTRS + over);
                        int r = gh_domxml_parse(x.buf, x.len, &d, &err);

                        assert_string_equal(
                                err.msg,
                                over ? "domain XML line 3: element <e> has more than 256 attributes" : "");
                        assert_int_equal(r, over ? -EINVAL : 0);
                }
}

/* depth elements <e> nested in <domain>, each declaring n namespaces, then <a/> up to len bytes. */
static void ns_doc(doc *x, unsigned depth, unsigned n, size_t len)
{
        doc_add(x, "<domain type='kvm'>\n<name>t</name>\n");
        for (unsigned i = 0; i < depth; i++) {
                doc_add(x, "<e");
                for (unsigned j = 0; j < n; j++)
                        doc_add(x, " xmlns:p%x='urn:%u'", j, i);
                doc_add(x, ">\n");
        }
        while (x->len < len)
                doc_add(x, "<a/>");
        for (unsigned i = 0; i < depth; i++)
                doc_add(x, "</e>");
        doc_add(x, "\n</domain>\n");
}

/* What counts is the declarations in scope: siblings each declaring the most are fine. */
static void test_budget_namespaces(void **state)
{
        _cleanup_(doc_done) doc at = {}, over = {}, nested = {}, siblings = {};
        _cleanup_(gh_domain_done) gh_domain d = {}, d2 = {};

        ns_doc(&at, 1, GH_DOMXML_MAX_NS, 0);
        ns_doc(&over, 1, GH_DOMXML_MAX_NS + 1, 0);
        ns_doc(&nested, 3, GH_DOMXML_MAX_NS / 2, 0);
        assert_int_equal(parse_timed("64 namespaces", &at, &d, &(gh_error){}), 0);
        assert_refused(over.buf, over.len, -EINVAL,
                       "domain XML line 3: element <e> has more than 64 namespaces in scope");
        assert_refused(nested.buf, nested.len, -EINVAL,
                       "domain XML line 5: element <e> has more than 64 namespaces in scope");
        doc_add(&siblings, "<domain xmlns:q='urn:q'><name>t</name><metadata>");
        for (unsigned i = 0; i < 100; i++)
                doc_add(&siblings, "<m%u:x xmlns:m%u='urn:%u'/><y xmlns='urn:y'/>", i, i, i);
        doc_add(&siblings, "</metadata></domain>");
        assert_int_equal(gh_domxml_parse(siblings.buf, siblings.len, &d2, NULL), 0);
}

static void test_budget_depth(void **state)
{
        _cleanup_(doc_done) doc at = {}, over = {};
        _cleanup_(gh_domain_done) gh_domain d = {};

        /* <domain> is the first level. */
        ns_doc(&at, GH_DOMXML_MAX_DEPTH - 1, 0, 0);
        ns_doc(&over, GH_DOMXML_MAX_DEPTH, 0, 0);
        assert_int_equal(gh_domxml_parse(at.buf, at.len, &d, NULL), 0);
        assert_refused(over.buf, over.len, -EINVAL,
                       "domain XML line 258: element <e> is nested more than 256 deep");
}

typedef struct cut_case {
        const char *before; /* bad syntax, after which libxml2 would go on its own way */
        const char *msg;    /* what libxml2 says of it */
} cut_case;

/* Where the syntax goes wrong, libxml2 goes on from a point the scan cannot follow: after "<?" with no
 * target, at a '<' in a value, after an XML declaration's first '>'. Each case hides 1 MB of attributes
 * (54 s if libxml2 reached them) in what looks like a value, a PI or a declaration: the scan stops and
 * libxml2 words the error, or the scan follows libxml2 and counts them. */
static void test_budget_bad_syntax(void **state)
{
        static const cut_case cases[] = {
                {"<domain>\n<e x='<metadata",
                 "domain XML line 2: Unescaped '<' not allowed in attributes values"},
                {"<domain>\n<? <metadata", "domain XML line 2: xmlParsePI : no target name"},
                {"<?xml version='1.0' x='><metadata",
                 "domain XML line 1: element <metadata> has more than 256 attributes"},
                {"<domain>\n<e a='1'b='<metadata", "domain XML line 2: attributes construct error"},
                {"<domain>\n<e\x01 a='1'><metadata",
                 "domain XML line 2: Couldn't find end of Start Tag e line 2"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(doc_done) doc x = {};
                gh_domain d = {};
                gh_error err = {};

                doc_add(&x, "%s", cases[i].before);
                for (unsigned j = 0; x.len < 1000 * 1000; j++)
                        doc_add(&x, " a%x='1'", j);
                doc_add(&x, "/> ?>'/></domain>\n");
                assert_int_equal(parse_timed("bad syntax, then 1 MB of attributes", &x, &d, &err), -EINVAL);
                assert_string_equal(err.msg, cases[i].msg);
        }
}

/* A processing instruction with a non-ASCII target is XML, but the scan does not follow it: what comes
 * after is cut, and refused even when the cut part would parse. */
static void test_budget_cut_refused(void **state)
{
        _cleanup_(doc_done) doc x = {};

        doc_add(&x, "<domain><name>t</name></domain>\n<?\xc3\xa9 x?>");
        while (x.len < 4096)
                doc_add(&x, "\n");
        assert_refused(x.buf, x.len, -EINVAL,
                       "domain XML line 2: markup the size checks cannot follow (libvirt never writes it)");
}

/* libxml2 would read UTF-7 if told so, where "+ADw-" is a '<' the scan never sees: the declaration is
 * ignored. */
static void test_budget_encoding_ignored(void **state)
{
        const char *xml =
                "<?xml version='1.0' encoding='UTF-7'?>\n"
                "<domain><name>t</name><devices>+ADw-hostdev mode='subsystem' type='pci'+AD4-"
                "+ADw-source+AD4-" PCI_SOURCE "+ADw-/source+AD4-+ADw-/hostdev+AD4-</devices></domain>";
        _cleanup_(gh_domain_done) gh_domain d = {};

        assert_int_equal(parse_string(xml, &d, NULL), 0);
        assert_int_equal(d.n_hostdevs, 0);
}

/* A comment that pads x to len bytes (one node, however long), and the end of the document. */
static void doc_pad(doc *x, size_t len)
{
        static const char tail[] = "--></domain>\n", unit[] = "padding padding padding padding ";

        doc_add(x, "<!--");
        while (x->len + strlen(unit) + strlen(tail) <= len)
                doc_add(x, "%s", unit);
        doc_add(x, "%s", tail);
}

/* Every node counts, whatever it is: elements, attributes, comments, PIs, CDATA sections. */
static void test_budget_nodes(void **state)
{
        static const char *const kinds[] = {"<a/>", "<a b='1'/>", "<!---->", "<?a?>", "<![CDATA[]]>"};

        for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
                unsigned per = i == 1 ? 2 : 1;
                _cleanup_(doc_done) doc at = {}, over = {};
                _cleanup_(gh_domain_done) gh_domain d = {};

                /* <domain> and <name> are two. */
                doc_add(&at, "<domain>\n<name>t</name>\n");
                doc_add(&over, "<domain>\n<name>t</name>\n");
                for (unsigned n = 2; n + per <= GH_DOMXML_MAX_NODES; n += per)
                        doc_add(&at, "%s", kinds[i]);
                for (unsigned n = 2; n <= GH_DOMXML_MAX_NODES; n += per)
                        doc_add(&over, "%s", kinds[i]);
                doc_add(&at, "</domain>\n");
                doc_add(&over, "</domain>\n");
                assert_int_equal(gh_domxml_parse(at.buf, at.len, &d, NULL), 0);
                assert_string_equal(d.name, "t");
                assert_refused(
                        over.buf, over.len, -EINVAL,
                        "domain XML line 3: more than 262144 elements, attributes and comments in all");
        }
}

/* The slowest documents that are taken, each up to 4 MiB: empty elements with text between them, elements
 * at the attribute limit, elements under the most namespaces, all to the node limit; and those refused
 * after the most work: 4 MiB of empty elements, and 4 MiB of one error repeated (libxml2 reported each). */
static void test_budget_worst_cases(void **state)
{
        _cleanup_(doc_done) doc text = {}, attrs = {}, ns = {}, plain = {}, entities = {};
        _cleanup_(gh_domain_done) gh_domain d = {}, d2 = {}, d3 = {};
        gh_error err = {}, err2 = {};

        doc_add(&text, "<domain>");
        for (unsigned n = 1; n + 2 <= GH_DOMXML_MAX_NODES; n++)
                doc_add(&text, "<a/>x");
        doc_pad(&text, GH_DOMXML_MAX);
        assert_int_equal(parse_timed("empty elements and text, to the node limit", &text, &d, &err), 0);

        doc_add(&attrs, "<domain>");
        for (unsigned n = 1; n + 1 + GH_DOMXML_MAX_ATTRS <= GH_DOMXML_MAX_NODES;
             n += 1 + GH_DOMXML_MAX_ATTRS) {
                doc_add(&attrs, "<e");
                for (unsigned i = 0; i < GH_DOMXML_MAX_ATTRS; i++)
                        doc_add(&attrs, " a%x='1'", i);
                doc_add(&attrs, "/>");
        }
        doc_pad(&attrs, GH_DOMXML_MAX);
        assert_int_equal(parse_timed("elements of 256 attributes, to the node limit", &attrs, &d2, &err), 0);

        ns_doc(&ns, 1, GH_DOMXML_MAX_NS, (GH_DOMXML_MAX_NODES - GH_DOMXML_MAX_NS - 8) * 4);
        assert_int_equal(
                parse_timed("empty elements under 64 namespaces, to the node limit", &ns, &d3, &err), 0);

        ns_doc(&plain, 0, 0, GH_DOMXML_MAX - 64);
        assert_int_equal(parse_timed("empty elements", &plain, &(gh_domain){}, &err2), -EINVAL);

        doc_add(&entities, "<domain>\n<name>t</name>");
        while (entities.len < GH_DOMXML_MAX - 64)
                doc_add(&entities, "&x;&x;&x;&x;&x;&x;&x;&x;");
        doc_add(&entities, "</domain>");
        err = (gh_error){};
        assert_int_equal(parse_timed("undefined entities", &entities, &(gh_domain){}, &err), -EINVAL);
        assert_string_equal(err.msg, "domain XML line 2: Entity 'x' not defined");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_full_domain),
                cmocka_unit_test(test_libvirt_formatted),
                cmocka_unit_test(test_guest_addresses_ignored),
                cmocka_unit_test(test_skipped_kinds),
                cmocka_unit_test(test_subsystem_pci_taken),
                cmocka_unit_test(test_bad_attributes),
                cmocka_unit_test(test_control_characters_escaped),
                cmocka_unit_test(test_number_forms),
                cmocka_unit_test(test_no_source),
                cmocka_unit_test(test_no_source_address),
                cmocka_unit_test(test_interface_hostdev),
                cmocka_unit_test(test_duplicate),
                cmocka_unit_test(test_duplicate_across_kinds),
                cmocka_unit_test(test_malformed),
                cmocka_unit_test(test_truncated_and_empty),
                cmocka_unit_test(test_undeclared_entity),
                cmocka_unit_test(test_entity_bomb),
                cmocka_unit_test(test_external_entity),
                cmocka_unit_test(test_not_domain),
                cmocka_unit_test(test_size_limit),
                cmocka_unit_test(test_no_name),
                cmocka_unit_test(test_nothing_printed),
                cmocka_unit_test(test_first_error_kept),
                cmocka_unit_test(test_budget_attribute_bomb),
                cmocka_unit_test(test_budget_attribute_limit),
                cmocka_unit_test(test_budget_tricky_syntax),
                cmocka_unit_test(test_budget_namespaces),
                cmocka_unit_test(test_budget_depth),
                cmocka_unit_test(test_budget_bad_syntax),
                cmocka_unit_test(test_budget_cut_refused),
                cmocka_unit_test(test_budget_encoding_ignored),
                cmocka_unit_test(test_budget_nodes),
                cmocka_unit_test(test_budget_worst_cases),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
