/* The dlopen()ed libvirt client, against libvirt's in-process test driver (test:///...), which touches no
 * daemon and no host: the XML of a domain, an unknown domain, a connection that fails. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "host/libvirt-dl.h"
#include "proc-fake.h"

static void test_default_test_domain(void **state)
{
        _cleanup_free_ char *xml = NULL;
        gh_error err = {};

        assert_int_equal(gh_libvirt_domain_xml("test:///default", GH_LIBVIRT_TEST_DRIVER, "test", &xml, &err), 0);
        assert_non_null(strstr(xml, "<name>test</name>"));
        assert_false(gh_error_isset(&err));
}

/* The test driver reads its domains from a file: the XML that comes back is that domain's. */
static void test_custom_node(void **state)
{
        _cleanup_pf_root_ char *root = pf_root_new("check-libvirt");
        _cleanup_free_ char *uri = NULL, *xml = NULL;
        gh_error err = {};

        pf_write(root, "/node.xml",
                 "<node><domain type='test'><name>win11</name><memory>1048576</memory>"
                 "<os><type>hvm</type></os><devices>"
                 "<hostdev mode='subsystem' type='pci' managed='no'><source>"
                 "<address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></source></hostdev>"
                 "</devices></domain></node>\n");
        assert_true(asprintf(&uri, "test://%s/node.xml", root) > 0);
        assert_int_equal(gh_libvirt_domain_xml(uri, GH_LIBVIRT_TEST_DRIVER, "win11", &xml, &err), 0);
        assert_non_null(strstr(xml, "<name>win11</name>"));
        assert_non_null(strstr(xml, "bus='0x01'"));
        free(xml);
        xml = NULL;
        assert_int_equal(gh_libvirt_domain_xml(uri, GH_LIBVIRT_TEST_DRIVER, "win10", &xml, &err), -ENOENT);
        assert_null(xml);
        assert_non_null(strstr(err.msg, "has no domain 'win10'"));
}

static void test_connection_fails(void **state)
{
        _cleanup_free_ char *xml = NULL;
        gh_error err = {};

        assert_int_equal(gh_libvirt_domain_xml("test:///nonexistent/gh-check/node.xml", GH_LIBVIRT_TEST_DRIVER, "win11", &xml, &err),
                         -ECONNREFUSED);
        assert_null(xml);
        assert_non_null(
                strstr(err.msg, "cannot connect to libvirt at 'test:///nonexistent/gh-check/node.xml'"));
}

/* check runs as root, often through sudo: a transport that runs a command, a remote host or a parameter
 * (socket=, command=) is refused before libvirt is asked. */
static void test_only_local_uris(void **state)
{
        static const char *const refused[] = {
                "qemu+ext:///system?command=/bin/true",
                "qemu+ssh://host/system",
                "qemu://host/system",
                "qemu:///system?socket=/tmp/x",
                "qemu:///system#x",
                "lxc:///system",
                "",
        };

        for (size_t i = 0; i < ELEMENTSOF(refused); i++) {
                _cleanup_free_ char *xml = NULL;
                gh_error err = {};

                assert_false(gh_libvirt_uri_allowed(refused[i], GH_LIBVIRT_TEST_DRIVER));
                assert_int_equal(gh_libvirt_domain_xml(refused[i], GH_LIBVIRT_TEST_DRIVER, "win11", &xml, &err),
                                 -EPERM);
                assert_null(xml);
                assert_non_null(strstr(err.msg, "is not a local qemu:/// one"));
        }
        assert_true(gh_libvirt_uri_allowed("qemu:///system", GH_LIBVIRT_QEMU_ONLY));
        assert_true(gh_libvirt_uri_allowed("qemu:///session", GH_LIBVIRT_QEMU_ONLY));
        /* libvirt's test driver reads whatever file the URI names: the installed tool never opens it. */
        assert_false(gh_libvirt_uri_allowed("test:///default", GH_LIBVIRT_QEMU_ONLY));
        assert_true(gh_libvirt_uri_allowed("test:///default", GH_LIBVIRT_TEST_DRIVER));
        {
                _cleanup_free_ char *xml = NULL;
                gh_error err = {};

                assert_int_equal(gh_libvirt_domain_xml("test:///default", GH_LIBVIRT_QEMU_ONLY, "test", &xml, &err),
                                 -EPERM);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_default_test_domain),
                cmocka_unit_test(test_custom_node),
                cmocka_unit_test(test_connection_fails),
                cmocka_unit_test(test_only_local_uris),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
