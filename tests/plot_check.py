"""Independent checks of the plot outputs for tests/test_plot.c.

  plot_check.py png FILE.png FILE.rgb W H
      Decodes the PNG with nothing but zlib (chunks, inflate, the five
      scanline filters) and compares it with the raw RGB8 pixels; prints "ok".
  plot_check.py svg FILE.svg
      Parses the SVG as XML and prints "width height" of the root, "glyphs N"
      (text drawn as glyph outlines), "strokes N", then one line
      "fill R G B N" per fill colour (0-255 each) of the filled shapes.
  plot_check.py pdf FILE.pdf
      Checks the PDF's header, cross-reference offsets and trailer and
      prints "pages N mediabox W H" of the first page.
"""
import collections
import re
import struct
import sys
import xml.etree.ElementTree as ET
import zlib

SVG = "{http://www.w3.org/2000/svg}"


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def decode_png(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit("not a PNG signature")
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        crc = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0]
        if zlib.crc32(kind + body) != crc:
            sys.exit("bad CRC in %r chunk" % kind)
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        pos += 12 + length
    w, h, depth, ctype, _, _, interlace = ihdr
    if depth != 8 or interlace != 0 or ctype not in (2, 6):
        sys.exit("unsupported PNG: depth %d colour type %d interlace %d" % (depth, ctype, interlace))
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = w * bpp
    out, prev = bytearray(), bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            line[i] = (line[i] + (0, a, b, (a + b) // 2, paeth(a, b, c))[f]) & 255
        out += line if bpp == 3 else bytes(v for i, v in enumerate(line) if i % 4 != 3)
        prev = line
    return w, h, bytes(out)


def main():
    if sys.argv[1] == "png":
        w, h, px = decode_png(sys.argv[2])
        want = open(sys.argv[3], "rb").read()
        if (w, h) != (int(sys.argv[4]), int(sys.argv[5])):
            sys.exit("size %dx%d, expected %sx%s" % (w, h, sys.argv[4], sys.argv[5]))
        if px != want:
            i = next(i for i in range(len(px)) if px[i] != want[i])
            sys.exit("pixel %d differs: %d != %d" % (i // 3, px[i], want[i]))
        print("ok")
    elif sys.argv[1] == "svg":
        svg(sys.argv[2])
    elif sys.argv[1] == "pdf":
        pdf(sys.argv[2])


def style_of(e):
    out = {}
    for part in (e.get("style") or "").split(";"):
        if ":" in part:
            k, v = part.split(":", 1)
            out[k.strip()] = v.strip()
    for k in ("fill", "stroke"):
        if e.get(k):
            out[k] = e.get(k)
    return out


def rgb255(v):
    m = re.fullmatch(r"rgb\(([\d.]+)%,([\d.]+)%,([\d.]+)%\)", v)
    if m:
        return tuple(round(float(x) * 255 / 100) for x in m.groups())
    m = re.fullmatch(r"#([0-9a-fA-F]{6})", v)
    if m:
        return tuple(int(m.group(1)[i:i + 2], 16) for i in (0, 2, 4))
    return None


def shapes(root):
    """The number of stroked shapes, and the filled ones by colour."""
    strokes, fills = 0, collections.Counter()
    for e in root.iter():
        if e.tag not in (SVG + "path", SVG + "rect"):
            continue
        st = style_of(e)
        if st.get("stroke", "none") != "none":
            strokes += 1
        c = rgb255(st.get("fill", "none"))
        if c and st.get("stroke", "none") == "none":
            fills[c] += 1
    return strokes, fills


def svg(path):
    root = ET.parse(path).getroot()
    if root.tag != SVG + "svg":
        sys.exit("root element is %s" % root.tag)
    print(root.get("width").replace("px", ""), root.get("height").replace("px", ""))
    glyphs = sum(1 for _ in root.iter(SVG + "use"))
    strokes, fills = shapes(root)
    print("glyphs", glyphs)
    print("strokes", strokes)
    for c, n in sorted(fills.items()):
        print("fill", *c, n)


def pdf(path):
    data = open(path, "rb").read()
    if not data.startswith(b"%PDF-1."):
        sys.exit("not a PDF header")
    if not data.rstrip().endswith(b"%%EOF"):
        sys.exit("no %%EOF trailer")
    m = re.search(rb"startxref\s+(\d+)\s+%%EOF\s*$", data)
    if not m or not data[int(m.group(1)):].startswith(b"xref"):
        sys.exit("startxref does not point at the cross-reference table")
    xref = data[int(m.group(1)):]
    first, count = map(int, re.match(rb"xref\s+(\d+)\s+(\d+)", xref).groups())
    entries = re.findall(rb"(\d{10}) (\d{5}) ([nf])", xref)[:count]
    for i, (off, _, kind) in enumerate(entries):
        if kind == b"n" and not re.match(rb"%d 0 obj" % (first + i), data[int(off):]):
            sys.exit("object %d is not at its offset" % (first + i))
    pages = re.search(rb"/Type\s*/Pages.*?/Count\s+(\d+)", data, re.S)
    box = re.search(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", data)
    if not pages or not box:
        sys.exit("no page tree or media box")
    print("pages", int(pages.group(1)), "mediabox", *(float(x) for x in box.groups()))


main()
