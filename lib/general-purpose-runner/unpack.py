#!/usr/bin/env python3
"""Unpacks a zip or tar bundle into a directory, refusing unsafe members.

Usage: python3 unpack.py ARCHIVE DEST

This is the bootstrap step of a GeneralPurposeRunner with the python preset:
an init container runs it on the stock python image, ARCHIVE comes from the
bundle ConfigMap (read-only) and DEST is the emptyDir the main container then
mounts. Only the standard library is used.

Only regular files and directories are extracted. Absolute paths, ".."
segments, links, devices and FIFOs are refused, so a bundle cannot write
outside DEST. Ownership and timestamps are not restored (the init container
runs as an unprivileged user); files with any execute bit become 0755,
others 0644.
"""
import os
import shutil
import stat
import sys
import tarfile
import zipfile


class UnsafeMember(Exception):
    """A bundle member that must not be extracted."""


def target_path(dest, name):
    """The absolute path `name` unpacks to, or UnsafeMember when it leaves `dest`."""
    norm = name.replace("\\", "/")
    parts = [p for p in norm.split("/") if p not in ("", ".")]
    if norm.startswith("/") or ".." in parts:
        raise UnsafeMember(f"member {name!r} has an absolute path or a '..' segment")
    target = os.path.join(dest, *parts) if parts else dest
    real = os.path.realpath(target)
    if real != dest and not real.startswith(dest + os.sep):
        raise UnsafeMember(f"member {name!r} resolves outside {dest}")
    return target


def write_file(target, source, executable):
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "wb") as out:
        shutil.copyfileobj(source, out)
    os.chmod(target, 0o755 if executable else 0o644)


def unpack_zip(archive, dest):
    count = 0
    with zipfile.ZipFile(archive) as bundle:
        members = bundle.infolist()
        for info in members:
            target_path(dest, info.filename)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise UnsafeMember(f"member {info.filename!r} is a symbolic link")
        for info in members:
            target = target_path(dest, info.filename)
            if info.is_dir():
                os.makedirs(target, exist_ok=True)
                continue
            with bundle.open(info) as source:
                write_file(target, source, bool((info.external_attr >> 16) & 0o111))
            count += 1
    return count


def unpack_tar(archive, dest):
    count = 0
    with tarfile.open(archive, "r:*") as bundle:
        members = bundle.getmembers()
        for member in members:
            target_path(dest, member.name)
            if not (member.isfile() or member.isdir()):
                raise UnsafeMember(f"member {member.name!r} is not a regular file or directory")
        for member in members:
            target = target_path(dest, member.name)
            if member.isdir():
                os.makedirs(target, exist_ok=True)
                continue
            source = bundle.extractfile(member)
            with source:
                write_file(target, source, bool(member.mode & 0o111))
            count += 1
    return count


def main(argv):
    if len(argv) != 3:
        print("usage: unpack.py ARCHIVE DEST", file=sys.stderr)
        return 2
    archive, dest = argv[1], os.path.realpath(argv[2])
    if not os.path.isdir(dest):
        print(f"unpack: destination {dest} is not a directory", file=sys.stderr)
        return 1
    try:
        if zipfile.is_zipfile(archive):
            count = unpack_zip(archive, dest)
        elif tarfile.is_tarfile(archive):
            count = unpack_tar(archive, dest)
        else:
            print(f"unpack: {archive} is neither a zip nor a tar archive", file=sys.stderr)
            return 1
    except (UnsafeMember, OSError, zipfile.BadZipFile, tarfile.TarError) as err:
        print(f"unpack: refusing {archive}: {err}", file=sys.stderr)
        return 1
    print(f"unpack: {count} files from {archive} into {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
