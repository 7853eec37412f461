/*
 * einvoice_pdf.c - ZUGFeRD / Factur-X: the CII invoice embedded in a
 * PDF/A-3.  qpdf reads the PDF and walks the EmbeddedFiles name tree; the
 * embedded stream is inflated here with zlib under the size limit, so that
 * a compressed bomb cannot make us allocate without bound.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <qpdf/qpdf-c.h>
#include <zlib.h>

#include "core/buf.h"
#include "einvoice/einvoice_pdf.h"
#include "einvoice/einvoice_xml.h"

/* The file names the specifications give the invoice XML. */
static const char *const invoice_names[] = {"factur-x.xml", "zugferd-invoice.xml", "xrechnung.xml",
                                            "order-x.xml"};

#define MAX_TREE_DEPTH 8
#define MAX_FILES 64

struct found {
    qpdf_oh spec[MAX_FILES];
    const char *name[MAX_FILES];
    size_t n;
};

/* The file name of a file specification, copied into the arena: qpdf's C
 * API reuses the buffer of returned strings. */
static const char *spec_name(struct arena *a, qpdf_data q, qpdf_oh spec)
{
    static const char *const keys[] = {"/UF", "/F"};
    for (size_t i = 0; i < KR_EI_LEN(keys); i++)
        if (qpdf_oh_has_key(q, spec, keys[i])) {
            qpdf_oh v = qpdf_oh_get_key(q, spec, keys[i]);
            if (qpdf_oh_is_string(q, v)) {
                const char *name = arena_strdup(a, qpdf_oh_get_utf8_value(q, v));
                return name ? name : "";
            }
        }
    return "";
}

/* Collect the file specifications of a name tree node (/Names pairs and
 * /Kids), at most MAX_FILES, at most MAX_TREE_DEPTH deep. */
static void walk(struct arena *a, qpdf_data q, qpdf_oh node, int depth, struct found *f)
{
    if (depth > MAX_TREE_DEPTH || !qpdf_oh_is_dictionary(q, node))
        return;
    qpdf_oh names = qpdf_oh_get_key(q, node, "/Names");
    int n = qpdf_oh_is_array(q, names) ? qpdf_oh_get_array_n_items(q, names) : 0;
    for (int i = 0; i + 1 < n && f->n < MAX_FILES; i += 2) {
        qpdf_oh spec = qpdf_oh_get_array_item(q, names, i + 1);
        if (!qpdf_oh_is_dictionary(q, spec))
            continue;
        f->spec[f->n] = spec;
        f->name[f->n++] = spec_name(a, q, spec);
    }
    qpdf_oh kids = qpdf_oh_get_key(q, node, "/Kids");
    n = qpdf_oh_is_array(q, kids) ? qpdf_oh_get_array_n_items(q, kids) : 0;
    for (int i = 0; i < n && f->n < MAX_FILES; i++)
        walk(a, q, qpdf_oh_get_array_item(q, kids, i), depth + 1, f);
}

static bool is_invoice_name(const char *name)
{
    for (size_t i = 0; i < KR_EI_LEN(invoice_names); i++)
        if (strcasecmp(name, invoice_names[i]) == 0)
            return true;
    return false;
}

/* Inflate (or copy) raw stream data into out, at most EINVOICE_MAX_SIZE. */
static int decode(const unsigned char *raw, size_t len, bool flate, struct buf *out,
                  struct kr_error *err)
{
    if (!flate)
        return buf_append(out, raw, len)
                   ? kr_error_set(err, KR_ERR_TOO_LARGE, "the embedded invoice is too large")
                   : KR_OK;
    z_stream z = {0};
    if (inflateInit(&z) != Z_OK)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    z.next_in = (unsigned char *)(uintptr_t)raw;
    z.avail_in = (uInt)len;
    unsigned char chunk[65536];
    int zrc = Z_OK;
    while (zrc == Z_OK && buf_status(out) == KR_OK) {
        z.next_out = chunk;
        z.avail_out = sizeof(chunk);
        zrc = inflate(&z, Z_NO_FLUSH);
        buf_append(out, chunk, sizeof(chunk) - z.avail_out);
        if (zrc == Z_BUF_ERROR && z.avail_in == 0)
            break;
    }
    inflateEnd(&z);
    if (buf_status(out))
        return kr_error_set(err, KR_ERR_TOO_LARGE, "the embedded invoice is larger than %u bytes",
                            EINVOICE_MAX_SIZE);
    if (zrc != Z_STREAM_END && zrc != Z_BUF_ERROR)
        return kr_error_set(err, KR_ERR_INVALID, "the embedded invoice's data is corrupt");
    return KR_OK;
}

/* The embedded file of spec into out. */
static int embedded_data(qpdf_data q, qpdf_oh spec, struct buf *out, struct kr_error *err)
{
    qpdf_oh ef = qpdf_oh_get_key(q, spec, "/EF");
    qpdf_oh stream = qpdf_oh_get_key(q, ef, qpdf_oh_has_key(q, ef, "/UF") ? "/UF" : "/F");
    if (!qpdf_oh_is_stream(q, stream))
        return kr_error_set(err, KR_ERR_INVALID, "the PDF's invoice attachment has no data");
    qpdf_oh dict = qpdf_oh_get_dict(q, stream);
    qpdf_oh filter = qpdf_oh_get_key(q, dict, "/Filter");
    /* No filter, or FlateDecode alone (what PDF/A-3 writers use). */
    qpdf_oh one = filter;
    if (qpdf_oh_is_array(q, filter) && qpdf_oh_get_array_n_items(q, filter) == 1)
        one = qpdf_oh_get_array_item(q, filter, 0);
    bool flate = qpdf_oh_is_name(q, one) && strcmp(qpdf_oh_get_name(q, one), "/FlateDecode") == 0;
    if (!flate && !qpdf_oh_is_null(q, filter))
        return kr_error_set(err, KR_ERR_INVALID,
                            "the PDF's invoice attachment uses an "
                            "unsupported filter");
    unsigned char *raw = NULL;
    size_t len = 0;
    if (qpdf_oh_get_stream_data(q, stream, qpdf_dl_none, NULL, &raw, &len) != QPDF_SUCCESS ||
        !raw) {
        free(raw);
        return kr_error_set(err, KR_ERR_INVALID, "the PDF's invoice attachment cannot be read");
    }
    int rc = decode(raw, len, flate, out, err);
    free(raw);
    return rc;
}

static int pick(const struct found *f, size_t *which, struct kr_error *err)
{
    size_t hits = 0;
    struct buf names;
    buf_init(&names, 1024);
    for (size_t i = 0; i < f->n; i++)
        if (is_invoice_name(f->name[i])) {
            *which = i;
            buf_printf(&names, "%s%s", hits++ ? ", " : "", f->name[i]);
        }
    int rc = KR_OK;
    if (hits == 0)
        rc = kr_error_set(err, KR_ERR_INVALID,
                          f->n ? "the PDF has attachments but no invoice XML (factur-x.xml, "
                                 "zugferd-invoice.xml or xrechnung.xml)"
                               : "the PDF has no embedded invoice XML (not ZUGFeRD/Factur-X)");
    else if (hits > 1)
        rc = kr_error_set(err, KR_ERR_INVALID,
                          "the PDF carries %zu invoice XML files (%.120s): which one counts is "
                          "ambiguous",
                          hits, buf_cstr(&names));
    buf_release(&names);
    return rc;
}

int einvoice_pdf_extract(struct arena *a, const char *data, size_t len, const char **xml,
                         size_t *xml_len, const char **name, struct kr_error *err)
{
    qpdf_data q = qpdf_init();
    if (!q)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    qpdf_silence_errors(q);
    qpdf_set_suppress_warnings(q, QPDF_TRUE);
    int rc = KR_OK;
    if (qpdf_read_memory(q, "invoice.pdf", data, (unsigned long long)len, NULL) & QPDF_ERRORS) {
        rc = kr_error_set(err, KR_ERR_INVALID, "not a readable PDF");
        goto out;
    }
    struct found f = {.n = 0};
    qpdf_oh names = qpdf_oh_get_key(q, qpdf_get_root(q), "/Names");
    walk(a, q, qpdf_oh_get_key(q, names, "/EmbeddedFiles"), 0, &f);
    size_t which = 0;
    rc = pick(&f, &which, err);
    if (rc)
        goto out;
    struct buf out;
    buf_init(&out, EINVOICE_MAX_SIZE);
    rc = embedded_data(q, f.spec[which], &out, err);
    if (rc == KR_OK) {
        *xml = arena_strndup(a, out.data ? out.data : "", out.len);
        *xml_len = out.len;
        *name = f.name[which];
        if (!*xml || !*name)
            rc = kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    }
    buf_release(&out);
out:
    /* Take qpdf's errors and warnings, or qpdf_cleanup prints them. */
    while (qpdf_has_error(q))
        (void)qpdf_get_error(q);
    while (qpdf_more_warnings(q))
        (void)qpdf_next_warning(q);
    qpdf_cleanup(&q);
    return rc;
}

/* ---- Profiles ------------------------------------------------------------------ */

static const struct {
    const char *id;
    const char *profile;
    bool valid_en16931;
} profiles[] = {
    {"urn:factur-x.eu:1p0:minimum", "MINIMUM", false},
    {"urn:factur-x.eu:1p0:basicwl", "BASIC WL", false},
    {"urn:cen.eu:en16931:2017#compliant#urn:factur-x.eu:1p0:basic", "BASIC", true},
    {"urn:cen.eu:en16931:2017", "EN 16931", true},
    {"urn:cen.eu:en16931:2017#conformant#urn:factur-x.eu:1p0:extended", "EXTENDED", true},
    {"urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0", "XRECHNUNG", true},
};

const char *einvoice_pdf_profile(const char *guideline, bool *valid_en16931)
{
    *valid_en16931 = false;
    for (size_t i = 0; guideline && i < KR_EI_LEN(profiles); i++)
        if (strcmp(guideline, profiles[i].id) == 0) {
            *valid_en16931 = profiles[i].valid_en16931;
            return profiles[i].profile;
        }
    return NULL;
}
