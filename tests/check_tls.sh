#!/bin/sh
# tests/check_tls.sh — the thread-local storage of libgradflow.so stays small.
# Static TLS is reserved from the stack of every thread of a program that
# links the library, whether or not the thread calls it, so large buffers
# belong to the objects that use them (e.g. a net's packing workspace), not
# to _Thread_local variables.  Reads the PT_TLS segment's MemSiz and fails
# above LIMIT bytes.  Run from the repo root; OUT is the directory holding
# libgradflow.so (default: lib).  POSIX sh.
set -u
OUT=${OUT:-lib}
SO=$OUT/libgradflow.so
LIMIT=4096

[ -e "$SO" ] || { echo "FAIL: $SO does not exist (build first: make)"; exit 1; }
command -v readelf >/dev/null 2>&1 || { echo "FAIL: readelf not found (install binutils)"; exit 1; }
if ! hdr=$(readelf -lW "$SO" 2>&1); then
    echo "FAIL: readelf -lW $SO failed:"; echo "$hdr"; exit 1
fi
# Program header columns: Type Offset VirtAddr PhysAddr FileSiz MemSiz Flg Align.
memsz=$(echo "$hdr" | awk '$1 == "TLS" { print $6; exit }')
if [ -z "$memsz" ]; then
    echo "ok: $SO has no TLS segment"
    exit 0
fi
case $memsz in
0x*) ;;
*) echo "FAIL: cannot read the TLS segment size of $SO (got '$memsz')"; exit 1 ;;
esac
bytes=$(printf '%d' "$memsz") || { echo "FAIL: bad TLS size '$memsz'"; exit 1; }
if [ "$bytes" -gt "$LIMIT" ]; then
    echo "FAIL: $SO has $bytes bytes of TLS (PT_TLS MemSiz $memsz), limit $LIMIT: every thread of a linking program pays it"
    exit 1
fi
echo "ok: $SO TLS segment is $bytes bytes (limit $LIMIT)"
