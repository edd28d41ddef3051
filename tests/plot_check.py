"""Independent checks of the plot outputs for tests/test_plot.c.

  plot_check.py png FILE.png FILE.rgb W H
      Decodes the PNG with nothing but zlib (chunks, inflate, the five
      scanline filters) and compares it with the raw RGB8 pixels; prints "ok".
  plot_check.py svg FILE.svg
      Parses the SVG as XML and prints "width height" of the root, then one
      line per <g> element: "class rects polylines polygons texts" (direct
      children only).
"""
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
        root = ET.parse(sys.argv[2]).getroot()
        if root.tag != SVG + "svg":
            sys.exit("root element is %s" % root.tag)
        print(root.get("width"), root.get("height"))
        for g in root.iter(SVG + "g"):
            n = [sum(1 for e in g if e.tag == SVG + t) for t in ("rect", "polyline", "polygon", "text")]
            print(g.get("class"), *n)


main()
