/* Reads a domain's XML from libvirt through dlopen(): libvirt pulls in a large set of libraries and
 * threads that the hook path must never load, so only `check` loads it, and only when it runs. */
#include <dlfcn.h>
#include <errno.h>

#include "libvirt-dl.h"

bool gh_libvirt_uri_allowed(const char *uri, gh_libvirt_uris allow)
{
        if (!startswith(uri, "qemu:///") && !((allow & GH_LIBVIRT_TEST_DRIVER) && startswith(uri, "test:///")))
                return false;
        return !strpbrk(uri, "?#");
}

#ifdef GH_HAVE_LIBVIRT
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#define LIBVIRT_SONAME "libvirt.so.0"

typedef struct libvirt_api {
        __typeof__(virConnectOpenReadOnly) *open_read_only;
        __typeof__(virConnectClose) *close;
        __typeof__(virDomainLookupByName) *lookup_by_name;
        __typeof__(virDomainGetXMLDesc) *get_xml_desc;
        __typeof__(virDomainFree) *domain_free;
        __typeof__(virGetLastErrorMessage) *last_error_message;
        __typeof__(virSetErrorFunc) *set_error_func;
} libvirt_api;

/* libvirt prints every error on stderr by default; ours go into err instead. */
static void quiet_errors(void *userdata, virErrorPtr error)
{
}

static int missing(const char *name, gh_error *err)
{
        return gh_error_set(err, -ENOPKG, "'%s' has no '%s': %s", LIBVIRT_SONAME, name, dlerror());
}

#define RESOLVE(api, dl, field, name, err)                                                                  \
        (((api)->field = (__typeof__((api)->field))dlsym((dl), (name))) ? 0 : missing((name), (err)))

/* The library stays loaded: libvirt leaves thread-local destructors and threads behind that must not
 * outlive its code. */
static int load(libvirt_api *api, gh_error *err)
{
        void *dl = dlopen(LIBVIRT_SONAME, RTLD_NOW | RTLD_LOCAL);
        int r;

        if (!dl)
                return gh_error_set(err, -ENOPKG, "cannot load libvirt ('%s'): %s", LIBVIRT_SONAME,
                                    dlerror());
        if ((r = RESOLVE(api, dl, open_read_only, "virConnectOpenReadOnly", err)) < 0 ||
            (r = RESOLVE(api, dl, close, "virConnectClose", err)) < 0 ||
            (r = RESOLVE(api, dl, lookup_by_name, "virDomainLookupByName", err)) < 0 ||
            (r = RESOLVE(api, dl, get_xml_desc, "virDomainGetXMLDesc", err)) < 0 ||
            (r = RESOLVE(api, dl, domain_free, "virDomainFree", err)) < 0 ||
            (r = RESOLVE(api, dl, last_error_message, "virGetLastErrorMessage", err)) < 0 ||
            (r = RESOLVE(api, dl, set_error_func, "virSetErrorFunc", err)) < 0)
                return r;
        api->set_error_func(NULL, quiet_errors);
        return 0;
}

static const char *last_error(const libvirt_api *api)
{
        const char *m = api->last_error_message();

        return m ? m : "unknown error";
}

static int domain_xml(const libvirt_api *api, virConnectPtr conn, const char *uri, const char *domain,
                      char **ret, gh_error *err)
{
        virDomainPtr dom = api->lookup_by_name(conn, domain);
        char *xml;

        if (!dom)
                return gh_error_set(err, -ENOENT, "libvirt at '%s' has no domain '%s': %s", uri, domain,
                                    last_error(api));
        xml = api->get_xml_desc(dom, 0);
        if (!xml)
                gh_error_set(err, -EIO, "cannot get the XML of domain '%s' from libvirt at '%s': %s", domain,
                             uri, last_error(api));
        api->domain_free(dom);
        if (!xml)
                return -EIO;
        *ret = xml; /* libvirt's documentation: the caller free()s it */
        return 0;
}

int gh_libvirt_domain_xml(const char *uri, gh_libvirt_uris allow, const char *domain, char **ret,
                          gh_error *err)
{
        libvirt_api api = {};
        virConnectPtr conn;
        int r;

        if (!gh_libvirt_uri_allowed(uri, allow))
                return gh_error_set(err, -EPERM, "libvirt URI '%s' is not a local qemu:/// one", uri);
        r = load(&api, err);
        if (r < 0)
                return r;
        conn = api.open_read_only(uri);
        if (!conn)
                return gh_error_set(err, -ECONNREFUSED, "cannot connect to libvirt at '%s': %s", uri,
                                    last_error(&api));
        r = domain_xml(&api, conn, uri, domain, ret, err);
        api.close(conn);
        return r;
}

#else

int gh_libvirt_domain_xml(const char *uri, gh_libvirt_uris allow, const char *domain, char **ret,
                          gh_error *err)
{
        return gh_error_set(err, -ENOPKG, "built without libvirt's headers: cannot ask libvirt at '%s'",
                            uri);
}

#endif
