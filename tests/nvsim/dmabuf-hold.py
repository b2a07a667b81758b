#!/usr/bin/env python3
"""Holds a dma-buf of a GPU and nothing else of it, as a process that imported a buffer (a video player, a
browser's GPU process) can: opens CARD, creates a GEM dumb buffer, exports it as a PRIME fd, closes the
card, writes the dma-buf's fd number to READY_FILE and sleeps until killed.

    dmabuf-hold.py CARD READY_FILE
"""
import fcntl
import os
import signal
import struct
import sys


def _iowr(nr, size):
    # _IOWR('d', nr, size) of the DRM uapi.
    return (3 << 30) | (size << 16) | (ord("d") << 8) | nr


# struct drm_mode_create_dumb: height, width, bpp, flags, handle, pitch (u32), size (u64).
CREATE_DUMB = struct.Struct("=IIIIIIQ")
DRM_IOCTL_MODE_CREATE_DUMB = _iowr(0xB2, CREATE_DUMB.size)
# struct drm_prime_handle: handle, flags (u32), fd (s32).
PRIME_HANDLE = struct.Struct("=IIi")
DRM_IOCTL_PRIME_HANDLE_TO_FD = _iowr(0x2D, PRIME_HANDLE.size)
DRM_CLOEXEC = os.O_CLOEXEC
DRM_RDWR = os.O_RDWR


def export_dumb(card):
    fd = os.open(card, os.O_RDWR | os.O_CLOEXEC)
    try:
        req = bytearray(CREATE_DUMB.pack(64, 64, 32, 0, 0, 0, 0))
        fcntl.ioctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, req)
        handle = CREATE_DUMB.unpack(req)[4]
        req = bytearray(PRIME_HANDLE.pack(handle, DRM_CLOEXEC | DRM_RDWR, -1))
        fcntl.ioctl(fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, req)
        return PRIME_HANDLE.unpack(req)[2]
    finally:
        # The dma-buf keeps the buffer (and the DRM device) alive without the card being open.
        os.close(fd)


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    dmabuf = export_dumb(sys.argv[1])
    tmp = sys.argv[2] + ".new"
    with open(tmp, "w") as f:
        f.write(f"{dmabuf}\n")
    os.rename(tmp, sys.argv[2])
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    while True:
        signal.pause()


if __name__ == "__main__":
    sys.exit(main())
