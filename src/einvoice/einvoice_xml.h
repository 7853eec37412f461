/*
 * einvoice_xml.h - libxml2 helpers of the e-invoice module (internal):
 * the hardened parse and navigation by "prefix:Name" paths, where the
 * prefixes are the fixed ones of the UBL and CII bindings (cbc, cac, ram,
 * rsm, udt, qdt), whatever prefixes the document itself uses.
 */
#ifndef KR_EINVOICE_XML_H
#define KR_EINVOICE_XML_H

#include <stdbool.h>
#include <stddef.h>

#include <libxml/tree.h>

#include "core/arena.h"
#include "core/error.h"
#include "einvoice/einvoice_model.h"

#define KR_EI_LEN(x) (sizeof(x) / sizeof((x)[0]))

/* Set up libxml2 once (thread-safe initialisation, errors silenced). */
void ei_xml_init(void);

/* Parse len bytes: no network, no DTD (a DOCTYPE is refused), no entity
 * expansion, at most EINVOICE_MAX_SIZE bytes, EINVOICE_MAX_ELEMENTS
 * elements and EINVOICE_MAX_DEPTH levels.  The document belongs to the
 * arena.  KR_ERR_INVALID / KR_ERR_TOO_LARGE / KR_ERR_NOMEM. */
int ei_xml_read(struct arena *a, const char *data, size_t len, xmlDoc **out,
                struct kr_error *err) KR_MUST_CHECK;

/* The namespace URI of a binding prefix, or NULL. */
const char *ei_ns_uri(const char *prefix, size_t len);

/* n is an element named qname ("cac:Party"). */
bool ei_is(const xmlNode *n, const char *qname);
/* First child element named qname, the next sibling of that name, and how
 * many children of that name p has. */
xmlNode *ei_child(const xmlNode *p, const char *qname);
xmlNode *ei_next(const xmlNode *n, const char *qname);
size_t ei_count(const xmlNode *p, const char *qname);
/* Follow "a:B/c:D" through first children; NULL when a step is missing. */
xmlNode *ei_path(xmlNode *p, const char *path);
/* Text content of an element (pointer into the document, or copied into
 * the arena when split); NULL for NULL. */
const char *ei_text(struct arena *a, const xmlNode *n);
/* The term at path ("cac:Party/cbc:Name", "cbc:ID/@schemeID"). */
struct ei_val ei_get(struct arena *a, xmlNode *p, const char *path);
struct ei_val ei_attr(const xmlNode *e, const char *name);
struct ei_val ei_node_val(struct arena *a, xmlNode *n);

#endif
