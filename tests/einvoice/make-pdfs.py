#!/usr/bin/env python3
"""Write the small ZUGFeRD/Factur-X test PDFs of tests/einvoice/ (run once;
the PDFs are committed).  Each is a one-page PDF whose EmbeddedFiles name
tree carries the given attachments, FlateDecode-compressed, as PDF/A-3
writers do.  Not a full PDF/A-3 (no XMP metadata): enough for extraction."""
import os
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def pdf(attachments):
    objs = []

    def add(body):
        objs.append(body)
        return len(objs)

    names = []
    specs = []
    for name, data in attachments:
        comp = zlib.compress(data)
        stream = add(b"<< /Type /EmbeddedFile /Subtype /text#2Fxml /Filter /FlateDecode "
                     b"/Length %d /Params << /Size %d >> >>\nstream\n" % (len(comp), len(data))
                     + comp + b"\nendstream")
        spec = add(b"<< /Type /Filespec /F (%s) /UF (%s) /AFRelationship /Data "
                   b"/EF << /F %d 0 R /UF %d 0 R >> >>" % (name, name, stream, stream))
        names.append(b"(%s) %d 0 R" % (name, spec))
        specs.append(b"%d 0 R" % spec)
    content = add(b"<< /Length 0 >>\nstream\n\nendstream")
    pages_id = len(objs) + 2
    page = add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Contents %d 0 R >>"
               % (pages_id, content))
    pages = add(b"<< /Type /Pages /Kids [%d 0 R] /Count 1 >>" % page)
    assert pages == pages_id
    extra = b""
    if names:
        extra = (b" /Names << /EmbeddedFiles << /Names [" + b" ".join(names) + b"] >> >>"
                 b" /AF [" + b" ".join(specs) + b"]")
    root = add(b"<< /Type /Catalog /Pages %d 0 R%s >>" % (pages, extra))
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objs) + 1, root, xref)
    return bytes(out)


def main():
    with open(os.path.join(HERE, "cii-invoice.xml"), "rb") as f:
        cii = f.read()
    minimum = cii.replace(b"urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0",
                          b"urn:factur-x.eu:1p0:minimum")
    basic = cii.replace(b"urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0",
                        b"urn:cen.eu:en16931:2017#compliant#urn:factur-x.eu:1p0:basic")
    files = {
        "zugferd-xrechnung.pdf": [(b"xrechnung.xml", cii)],
        "zugferd-basic.pdf": [(b"factur-x.xml", basic), (b"note.txt", b"hello")],
        "zugferd-minimum.pdf": [(b"factur-x.xml", minimum)],
        "pdf-no-attachment.pdf": [],
        "pdf-two-invoices.pdf": [(b"factur-x.xml", cii), (b"zugferd-invoice.xml", cii)],
        # 20 MB of blanks inflate beyond the 16 MB limit: a deflate bomb.
        "pdf-deflate-bomb.pdf": [(b"factur-x.xml", b"<x>" + b" " * (20 << 20) + b"</x>")],
    }
    for name, attachments in files.items():
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(pdf(attachments))


if __name__ == "__main__":
    main()
