/*
 * camt.c - ISO 20022 camt.053 bank-to-customer statements (.001.02 and
 * .001.08), read with libxml2's streaming reader: one entry at a time in
 * fixed buffers, no DOM, no network, no DTD and no entity expansion.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/xmlreader.h>

#include "payments/payments.h"
#include "payments/statement_internal.h"

#define CAMT_NS_PREFIX "urn:iso:std:iso:20022:tech:xsd:camt.053.001."
#define MAX_DEPTH 24
#define NAME_MAX_LEN 32

struct camt {
    xmlTextReaderPtr r;
    const struct payments_stmt_sink *sink;
    char format[24];
    char path[MAX_DEPTH][NAME_MAX_LEN];
    int depth;
    char stmt_id[STMT_FIELD], account[STMT_FIELD];
    bool in_stmt, stmt_sent, in_ntry, in_tx, ntry_emitted, reversal;
    struct stmt_fields ntry, tx;
    char xml_error[160];
};

/* Does the path end with the given names (innermost last)? */
static bool ends(const struct camt *c, const char *const *names, int n)
{
    if (c->depth < n)
        return false;
    for (int i = 0; i < n; i++)
        if (strcmp(c->path[c->depth - n + i], names[i]) != 0)
            return false;
    return true;
}
#define ENDS(c, ...)                                                                               \
    ends(c, (const char *const[]){__VA_ARGS__},                                                    \
         (int)(sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *)))

static void on_xml_error(void *arg, const xmlError *e)
{
    struct camt *c = arg;
    if (!c->xml_error[0] && e && e->message)
        snprintf(c->xml_error, sizeof(c->xml_error), "line %d: %s", e->line, e->message);
}

static int check_root(struct camt *c, struct kr_error *err)
{
    const char *ns = (const char *)xmlTextReaderConstNamespaceUri(c->r);
    if (strcmp(c->path[0], "Document") != 0 || !ns ||
        strncmp(ns, CAMT_NS_PREFIX, strlen(CAMT_NS_PREFIX)) != 0)
        return kr_error_set(err, KR_ERR_INVALID, "not a camt.053 document");
    const char *v = ns + strlen(CAMT_NS_PREFIX);
    if (strcmp(v, "02") != 0 && strcmp(v, "08") != 0)
        return kr_error_set(err, KR_ERR_INVALID,
                            "camt.053.001.%.8s is not supported (use .001.02 or .001.08)", v);
    snprintf(c->format, sizeof(c->format), "camt.053.001.%s", v);
    return KR_OK;
}

static int send_statement(struct camt *c, struct kr_error *err)
{
    if (c->stmt_sent)
        return KR_OK;
    c->stmt_sent = true;
    if (!c->stmt_id[0])
        return kr_error_set(err, KR_ERR_INVALID, "statement without Id");
    struct payments_stmt_info info = {c->format, c->account, c->stmt_id};
    return c->sink->statement ? c->sink->statement(c->sink->ctx, &info, err) : KR_OK;
}

static int check_currency(struct camt *c, struct kr_error *err)
{
    xmlChar *ccy = xmlTextReaderGetAttribute(c->r, BAD_CAST "Ccy");
    bool ok = ccy && strcmp((const char *)ccy, "EUR") == 0;
    int rc = ok ? KR_OK
                : kr_error_set(err, KR_ERR_INVALID, "currency %.8s: only EUR is accepted",
                               ccy ? (const char *)ccy : "(none)");
    xmlFree(ccy);
    return rc;
}

static int start_element(struct camt *c, struct kr_error *err)
{
    const char *name = (const char *)xmlTextReaderConstLocalName(c->r);
    if (c->depth == MAX_DEPTH)
        return kr_error_set(err, KR_ERR_INVALID, "elements nested too deep");
    snprintf(c->path[c->depth++], NAME_MAX_LEN, "%s", name ? name : "");
    if (c->depth == 1)
        return check_root(c, err);
    if (ENDS(c, "Stmt")) {
        c->in_stmt = true;
        c->stmt_sent = false;
        c->stmt_id[0] = c->account[0] = '\0';
    } else if (c->in_stmt && ENDS(c, "Stmt", "Ntry")) {
        int rc = send_statement(c, err);
        if (rc)
            return rc;
        c->in_ntry = true;
        c->ntry_emitted = c->reversal = false;
        stmt_fields_clear(&c->ntry);
    } else if (c->in_ntry && ENDS(c, "TxDtls")) {
        c->in_tx = true;
        stmt_fields_clear(&c->tx);
    }
    if (c->in_ntry && ENDS(c, "Amt"))
        return check_currency(c, err);
    return KR_OK;
}

static int emit(struct camt *c, const struct stmt_fields *f, const char *amount,
                struct kr_error *err)
{
    int64_t cents;
    int rc = payments_amount_parse(amount, strlen(amount), false, false, &cents, err);
    if (rc) {
        kr_error_prefix(err, "statement %.40s, entry %.40s", c->stmt_id, c->ntry.ref);
        return rc;
    }
    const char *ind = c->ntry.indicator;
    if (strcmp(ind, "CRDT") != 0 && strcmp(ind, "DBIT") != 0)
        return kr_error_set(err, KR_ERR_INVALID, "entry without CdtDbtInd CRDT or DBIT");
    bool credit = (strcmp(ind, "CRDT") == 0) != c->reversal;
    struct payments_stmt_item item = {
        cents, credit, c->ntry.booked_at, f->ref[0] ? f->ref : c->ntry.ref, f->name, f->remittance};
    return c->sink->item ? c->sink->item(c->sink->ctx, &item, err) : KR_OK;
}

static int end_element(struct camt *c, struct kr_error *err)
{
    int rc = KR_OK;
    if (c->in_tx && ENDS(c, "TxDtls")) {
        c->in_tx = false;
        c->ntry_emitted = true;
        rc = emit(c, &c->tx, c->tx.amount[0] ? c->tx.amount : c->ntry.amount, err);
    } else if (c->in_ntry && ENDS(c, "Stmt", "Ntry")) {
        c->in_ntry = false;
        if (!c->ntry_emitted)
            rc = emit(c, &c->ntry, c->ntry.amount, err);
    } else if (c->in_stmt && ENDS(c, "Stmt")) {
        rc = send_statement(c, err);
        c->in_stmt = false;
    }
    if (c->depth > 0)
        c->depth--;
    return rc;
}

/* Text of a leaf element: stored when its path is one we read. */
static int text(struct camt *c, const char *t, struct kr_error *err)
{
    struct stmt_fields *f = c->in_tx ? &c->tx : &c->ntry;
    if (c->in_stmt && !c->in_ntry) {
        if (ENDS(c, "Stmt", "Id"))
            stmt_copy(c->stmt_id, t);
        else if (ENDS(c, "Acct", "Id", "IBAN") ||
                 (ENDS(c, "Acct", "Id", "Othr", "Id") && !c->account[0]))
            stmt_copy(c->account, t);
        return KR_OK;
    }
    if (!c->in_ntry)
        return KR_OK;
    if (ENDS(c, "Ntry", "Amt"))
        snprintf(c->ntry.amount, sizeof(c->ntry.amount), "%s", t);
    else if (ENDS(c, "Ntry", "CdtDbtInd"))
        snprintf(c->ntry.indicator, sizeof(c->ntry.indicator), "%s", t);
    else if (ENDS(c, "Ntry", "RvslInd"))
        c->reversal = strcmp(t, "true") == 0 || strcmp(t, "1") == 0;
    else if (ENDS(c, "Ntry", "BookgDt", "Dt") || ENDS(c, "Ntry", "BookgDt", "DtTm"))
        return stmt_date(t, &c->ntry.booked_at, err);
    else if (ENDS(c, "Ntry", "AcctSvcrRef"))
        stmt_copy(c->ntry.ref, t);
    else if (c->in_tx && (ENDS(c, "TxDtls", "Amt") || ENDS(c, "AmtDtls", "TxAmt", "Amt")))
        snprintf(c->tx.amount, sizeof(c->tx.amount), "%s", t);
    else if (c->in_tx && (ENDS(c, "Refs", "AcctSvcrRef") ||
                          (ENDS(c, "Refs", "EndToEndId") && strcmp(t, "NOTPROVIDED") != 0)))
        stmt_copy(c->tx.ref, t);
    else if (ENDS(c, "RltdPties", "Dbtr", "Nm") || ENDS(c, "RltdPties", "Dbtr", "Pty", "Nm"))
        stmt_copy(f->name, t);
    else if (ENDS(c, "RmtInf", "Ustrd") || ENDS(c, "CdtrRefInf", "Ref"))
        stmt_append(f->remittance, t);
    return KR_OK;
}

static int step(struct camt *c, struct kr_error *err)
{
    int type = xmlTextReaderNodeType(c->r);
    switch (type) {
    case XML_READER_TYPE_ELEMENT: {
        bool empty = xmlTextReaderIsEmptyElement(c->r);
        int rc = start_element(c, err);
        return rc || !empty ? rc : end_element(c, err);
    }
    case XML_READER_TYPE_END_ELEMENT: return end_element(c, err);
    case XML_READER_TYPE_TEXT:
    case XML_READER_TYPE_CDATA: {
        const char *t = (const char *)xmlTextReaderConstValue(c->r);
        return t ? text(c, t, err) : KR_OK;
    }
    case XML_READER_TYPE_DOCUMENT_TYPE:
        return kr_error_set(err, KR_ERR_INVALID, "a DOCTYPE is not allowed in a statement");
    case XML_READER_TYPE_ENTITY_REFERENCE:
    case XML_READER_TYPE_ENTITY:
        return kr_error_set(err, KR_ERR_INVALID, "entities are not allowed in a statement");
    default: return KR_OK;
    }
}

int payments_camt_parse(const char *data, size_t len, const struct payments_stmt_sink *sink,
                        struct kr_error *err)
{
    if (len > PAYMENTS_STATEMENT_MAX_BYTES || len > INT32_MAX)
        return kr_error_set(err, KR_ERR_TOO_LARGE, "statement larger than 256 MiB");
    struct camt *c = calloc(1, sizeof(*c));
    if (!c)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    c->sink = sink;
    c->r = xmlReaderForMemory(data, (int)len, NULL, NULL, XML_PARSE_NONET | XML_PARSE_NOCDATA);
    if (!c->r) {
        free(c);
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    }
    xmlTextReaderSetStructuredErrorHandler(c->r, (xmlStructuredErrorFunc)on_xml_error, c);
    int rc = KR_OK, got;
    bool any = false;
    while (rc == KR_OK && (got = xmlTextReaderRead(c->r)) == 1) {
        any = true;
        rc = step(c, err);
    }
    if (rc == KR_OK && (got < 0 || !any))
        rc = kr_error_set(err, KR_ERR_INVALID, "malformed XML: %s",
                          c->xml_error[0] ? c->xml_error : "no document");
    xmlFreeTextReader(c->r);
    free(c);
    return rc;
}
