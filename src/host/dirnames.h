/* The names in a directory under ROOT that end in a suffix: the domains that opted in (domains/NAME.conf),
 * the domains libvirt starts at boot (autostart/NAME.xml). */
#pragma once

/* The names of ROOT/dir's entries ending in suffix, without it, sorted (strv, the caller's to free; NULL
 * when there are none or there is no such directory). Hidden entries and a bare suffix are skipped; an
 * entry is listed whatever it is (autostart's are links to the definitions). */
int gh_dir_names(const char *root, const char *dir, const char *suffix, char ***ret);
