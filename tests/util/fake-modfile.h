/* The module files of a fakesys tree: what a load would find in ROOT/lib/modules/$(uname -r), indexed by
 * the real depmod, and the loaded modules' srcversions, as the kernel shows them in sysfs. */
#pragma once

#include "fakesys.h"

/* ROOT/lib/modules/RELEASE/kernel/drivers/NAME.ko, made from tests/fixtures/kmod/gpu-module.c with this
 * srcversion in its modinfo (NULL: none, at most 32 characters), then depmod. Fails the test when depmod
 * is missing (package kmod, which scripts/test installs). */
void fake_modfile_add(fakesys *fs, const char *name, const char *srcversion);
/* Its path below ROOT: /lib/modules/RELEASE/kernel/drivers/NAME.ko (newly allocated). */
char *fake_modfile_path(const char *name);
/* Removes that file, as a kernel upgrade does (the index still lists it). */
void fake_modfile_remove(fakesys *fs, const char *name);
/* depmod -b ROOT RELEASE: writes the indexes libkmod reads, under the fake root only. */
void fake_modfile_depmod(fakesys *fs);
/* ROOT/sys/module/NAME/srcversion, for a loaded module (fakesys_add_module). */
void fake_module_set_srcversion(fakesys *fs, const char *name, const char *srcversion);
/* ROOT/sys/module/NAME/parameters/PARAM holding value. */
void fake_module_set_param(fakesys *fs, const char *name, const char *param, const char *value);
