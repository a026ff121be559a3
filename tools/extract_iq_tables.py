#!/usr/bin/env python3
"""Extract ggml's IQ quantization tables from libggml-base.so into little-endian .bin files.

The tables (iq1s_grid, iq2xxs_grid, ...) are local read-only symbols of ggml's base library.
This reads the ELF64 section headers and the symbol table, maps each symbol's virtual address to
its file offset through the section that holds it, and writes the symbol's bytes unchanged
(x86-64 is little-endian, so the files are little-endian).

Usage: extract_iq_tables.py path/to/libggml-base.so output/dir
"""
import struct
import sys
from pathlib import Path

# symbol name -> (output file, element size in bytes, element count)
TABLES = {
    "iq1s_grid": ("iq1s_grid.bin", 8, 2048),
    "iq2xxs_grid": ("iq2xxs_grid.bin", 8, 256),
    "iq2xs_grid": ("iq2xs_grid.bin", 8, 512),
    "iq2s_grid": ("iq2s_grid.bin", 8, 1024),
    "iq3xxs_grid": ("iq3xxs_grid.bin", 4, 256),
    "iq3s_grid": ("iq3s_grid.bin", 4, 512),
    "ksigns_iq2xs": ("ksigns_iq2xs.bin", 1, 128),
    "kvalues_iq4nl": ("kvalues_iq4nl.bin", 1, 16),
}

SHT_SYMTAB = 2
SHT_NOBITS = 8


def read_sections(data):
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise SystemExit("not a little-endian ELF64 file")
    (e_shoff,) = struct.unpack_from("<Q", data, 0x28)
    e_shentsize, e_shnum, e_shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    sections = []
    for i in range(e_shnum):
        off = e_shoff + i * e_shentsize
        name, sh_type, _flags, addr, offset, size, link, _info, _align, entsize = struct.unpack_from(
            "<IIQQQQIIQQ", data, off)
        sections.append(dict(name=name, type=sh_type, addr=addr, offset=offset, size=size, link=link, entsize=entsize))
    return sections


def c_string(data, offset):
    end = data.index(b"\0", offset)
    return data[offset:end].decode()


def find_symbols(data, sections, wanted):
    found = {}
    for sec in sections:
        if sec["type"] != SHT_SYMTAB:
            continue
        strtab = sections[sec["link"]]
        for i in range(sec["size"] // sec["entsize"]):
            st_name, _info, _other, shndx, value, size = struct.unpack_from(
                "<IBBHQQ", data, sec["offset"] + i * sec["entsize"])
            name = c_string(data, strtab["offset"] + st_name)
            if name in wanted:
                found[name] = (shndx, value, size)
    return found


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    data = Path(sys.argv[1]).read_bytes()
    out_dir = Path(sys.argv[2])
    sections = read_sections(data)
    symbols = find_symbols(data, sections, TABLES)
    for name, (file_name, elem, count) in TABLES.items():
        if name not in symbols:
            raise SystemExit(f"symbol {name} not found (library stripped?)")
        shndx, value, size = symbols[name]
        if size != elem * count:
            raise SystemExit(f"{name}: size {size}, expected {elem * count}")
        sec = sections[shndx]
        if sec["type"] == SHT_NOBITS or not (sec["addr"] <= value and value + size <= sec["addr"] + sec["size"]):
            raise SystemExit(f"{name}: not inside its section's file bytes")
        start = sec["offset"] + (value - sec["addr"])
        (out_dir / file_name).write_bytes(data[start:start + size])
        print(f"{name}: {count} x {elem} bytes -> {file_name}")


if __name__ == "__main__":
    main()
