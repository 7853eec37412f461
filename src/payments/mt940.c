/*
 * mt940.c - SWIFT MT940 statements as German banks send them: fields
 * :20: :25: :28C: :60F: :61: :86: :62F:, the :86: details structured with
 * ?20-?29 / ?60-?63 (remittance) and ?32/?33 (counterparty name).
 * Pointer-and-length parsing, no copies beyond the fixed field buffers.
 */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "payments/payments.h"
#include "payments/statement_internal.h"

#define FIELD_MAX (8 * 1024) /* one field with its continuation lines */

struct mt940 {
    const struct payments_stmt_sink *sink;
    char ref[STMT_FIELD], seq[64], account[STMT_FIELD], stmt_id[STMT_FIELD];
    bool have_stmt, stmt_sent, pending;
    struct payments_stmt_item item;
    struct stmt_fields f;
    char tag[8];
    char value[FIELD_MAX + 1];
    size_t value_len;
};

static int send_statement(struct mt940 *m, struct kr_error *err)
{
    if (m->stmt_sent || !m->have_stmt)
        return KR_OK;
    m->stmt_sent = true;
    snprintf(m->stmt_id, sizeof(m->stmt_id), "%.500s/%.60s", m->ref, m->seq);
    struct payments_stmt_info info = {"mt940", m->account, m->stmt_id};
    return m->sink->statement ? m->sink->statement(m->sink->ctx, &info, err) : KR_OK;
}

static int flush_item(struct mt940 *m, struct kr_error *err)
{
    if (!m->pending)
        return KR_OK;
    m->pending = false;
    m->item.ref = m->f.ref;
    m->item.debtor_name = m->f.name;
    m->item.remittance = m->f.remittance;
    return m->sink->item ? m->sink->item(m->sink->ctx, &m->item, err) : KR_OK;
}

/* :61:YYMMDD[MMDD](C|D|RC|RD)[funds]amount Nxxx ref[//bankref] */
static int parse_61(struct mt940 *m, const char *v, size_t len, struct kr_error *err)
{
    size_t i = 0;
    int d[6];
    for (int k = 0; k < 6; k++, i++) {
        if (i >= len || v[i] < '0' || v[i] > '9')
            return kr_error_set(err, KR_ERR_INVALID, ":61: without a value date");
        d[k] = v[i] - '0';
    }
    int64_t day = stmt_days(2000 + d[0] * 10 + d[1], d[2] * 10 + d[3], d[4] * 10 + d[5]);
    if (day < 0)
        return kr_error_set(err, KR_ERR_INVALID, ":61: value date does not exist");
    while (i < len && i < 10 && v[i] >= '0' && v[i] <= '9')
        i++; /* the optional entry date MMDD */
    bool reversal = i < len && v[i] == 'R';
    i += reversal;
    if (i >= len || (v[i] != 'C' && v[i] != 'D'))
        return kr_error_set(err, KR_ERR_INVALID, ":61: without C or D");
    bool credit = (v[i++] == 'C') != reversal;
    if (i < len && v[i] >= 'A' && v[i] <= 'Z')
        i++; /* funds code, the third letter of the currency */
    size_t start = i;
    while (i < len && ((v[i] >= '0' && v[i] <= '9') || v[i] == ','))
        i++;
    int64_t cents;
    int rc = payments_amount_parse(v + start, i - start, true, false, &cents, err);
    if (rc) {
        kr_error_prefix(err, ":61:");
        return rc;
    }
    stmt_fields_clear(&m->f);
    /* Transaction type N/F/S + 3 characters, then the customer reference. */
    if (i + 4 <= len)
        i += 4;
    const char *slash = memmem(v + i, len - i, "//", 2);
    size_t ref_end = slash ? (size_t)(slash - v) : len;
    const char *bank_ref = slash ? slash + 2 : NULL;
    size_t bank_len = slash ? len - (size_t)(bank_ref - v) : 0;
    while (bank_len && (bank_ref[bank_len - 1] == ' ' || bank_ref[bank_len - 1] == '\n'))
        bank_len--;
    if (bank_len && !memchr(bank_ref, '\n', bank_len))
        stmt_copyn(m->f.ref, bank_ref, bank_len);
    else if (ref_end > i && memcmp(v + i, "NONREF", 6) != 0)
        stmt_copyn(m->f.ref, v + i, ref_end - i > 16 ? 16 : ref_end - i);
    m->item =
        (struct payments_stmt_item){.amount_cents = cents, .credit = credit, .booked_at = day};
    m->pending = true;
    return KR_OK;
}

/* Append one ?NN subfield of :86: to name or remittance. */
static void subfield_86(struct mt940 *m, int code, const char *s, size_t len)
{
    char tmp[STMT_FIELD];
    stmt_copyn(tmp, s, len);
    if ((code >= 20 && code <= 29) || (code >= 60 && code <= 63)) {
        /* Wrapped remittance lines: joined without a space, as written. */
        size_t have = strlen(m->f.remittance), add = strlen(tmp);
        if (have + add <= PAYMENTS_TEXT_MAX) {
            memcpy(m->f.remittance + have, tmp, add + 1);
        }
    } else if (code == 32 || code == 33) {
        size_t have = strlen(m->f.name), add = strlen(tmp);
        if (have + add <= PAYMENTS_TEXT_MAX)
            memcpy(m->f.name + have, tmp, add + 1);
    }
}

static void parse_86(struct mt940 *m, const char *v, size_t len)
{
    const char *q = memchr(v, '?', len);
    if (!q) {
        stmt_copyn(m->f.remittance, v, len);
        return;
    }
    while (q) {
        size_t at = (size_t)(q - v);
        if (at + 3 > len)
            break;
        int code = (q[1] >= '0' && q[1] <= '9' && q[2] >= '0' && q[2] <= '9')
                       ? (q[1] - '0') * 10 + (q[2] - '0')
                       : -1;
        const char *next = memchr(q + 1, '?', len - at - 1);
        size_t end = next ? (size_t)(next - v) : len;
        if (code >= 0)
            subfield_86(m, code, q + 3, end - at - 3);
        q = next;
    }
}

static int check_balance(const char *v, size_t len, struct kr_error *err)
{
    /* C|D YYMMDD CCC amount */
    if (len < 11 || (v[0] != 'C' && v[0] != 'D'))
        return kr_error_set(err, KR_ERR_INVALID, "balance field malformed");
    if (memcmp(v + 7, "EUR", 3) != 0)
        return kr_error_set(err, KR_ERR_INVALID, "currency %.3s: only EUR is accepted", v + 7);
    int64_t cents;
    size_t n = len - 10;
    while (n && (v[10 + n - 1] == ' ' || v[10 + n - 1] == '\n'))
        n--;
    return payments_amount_parse(v + 10, n, true, true, &cents, err);
}

static int end_field(struct mt940 *m, struct kr_error *err)
{
    const char *v = m->value;
    size_t len = m->value_len;
    const char *t = m->tag;
    int rc = KR_OK;
    if (!t[0])
        return KR_OK;
    if (strcmp(t, "20") == 0) {
        rc = flush_item(m, err);
        if (rc == KR_OK)
            rc = send_statement(m, err);
        m->have_stmt = true;
        m->stmt_sent = false;
        m->account[0] = m->seq[0] = '\0';
        stmt_copyn(m->ref, v, len);
    } else if (!m->have_stmt) {
        rc = kr_error_set(err, KR_ERR_INVALID, "MT940: field :%s: before :20:", t);
    } else if (strcmp(t, "25") == 0) {
        stmt_copyn(m->account, v, len);
    } else if (strcmp(t, "28C") == 0 || strcmp(t, "28") == 0) {
        snprintf(m->seq, sizeof(m->seq), "%.*s", (int)(len > 60 ? 60 : len), v);
    } else if (strcmp(t, "60F") == 0 || strcmp(t, "60M") == 0 || strcmp(t, "62F") == 0 ||
               strcmp(t, "62M") == 0) {
        rc = flush_item(m, err);
        if (rc == KR_OK)
            rc = check_balance(v, len, err);
    } else if (strcmp(t, "61") == 0) {
        rc = flush_item(m, err);
        if (rc == KR_OK)
            rc = send_statement(m, err);
        if (rc == KR_OK)
            rc = parse_61(m, v, len, err);
    } else if (strcmp(t, "86") == 0 && m->pending) {
        parse_86(m, v, len);
        rc = flush_item(m, err);
    }
    m->tag[0] = '\0';
    m->value_len = 0;
    return rc;
}

static int line(struct mt940 *m, const char *s, size_t len, struct kr_error *err)
{
    if (len > 0 && s[len - 1] == '\r')
        len--;
    if (len >= 3 && s[0] == ':') {
        const char *colon = memchr(s + 1, ':', len - 1);
        size_t tl = colon ? (size_t)(colon - s - 1) : 0;
        if (colon && tl >= 2 && tl <= 3) {
            int rc = end_field(m, err);
            if (rc)
                return rc;
            memcpy(m->tag, s + 1, tl);
            m->tag[tl] = '\0';
            s = colon + 1;
            len -= tl + 2;
            goto append;
        }
    }
    if (len == 1 && s[0] == '-')
        return end_field(m, err);
    if (!m->tag[0])
        return KR_OK; /* SWIFT headers, blank lines */
append:
    if (m->value_len + len + 1 > FIELD_MAX)
        return kr_error_set(err, KR_ERR_INVALID, "MT940: field :%s: too long", m->tag);
    if (m->value_len && strcmp(m->tag, "86") != 0)
        m->value[m->value_len++] = '\n';
    memcpy(m->value + m->value_len, s, len);
    m->value_len += len;
    m->value[m->value_len] = '\0';
    return KR_OK;
}

int payments_mt940_parse(const char *data, size_t len, const struct payments_stmt_sink *sink,
                         struct kr_error *err)
{
    if (len > PAYMENTS_STATEMENT_MAX_BYTES)
        return kr_error_set(err, KR_ERR_TOO_LARGE, "statement larger than 256 MiB");
    struct mt940 *m = calloc(1, sizeof(*m));
    if (!m)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    m->sink = sink;
    int rc = KR_OK;
    size_t pos = 0;
    while (rc == KR_OK && pos < len) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - data) : len;
        if (memchr(data + pos, '\0', end - pos))
            rc = kr_error_set(err, KR_ERR_INVALID, "MT940: NUL byte");
        else
            rc = line(m, data + pos, end - pos, err);
        pos = end + 1;
    }
    if (rc == KR_OK)
        rc = end_field(m, err);
    if (rc == KR_OK)
        rc = flush_item(m, err);
    if (rc == KR_OK && !m->have_stmt)
        rc = kr_error_set(err, KR_ERR_INVALID, "not an MT940 statement (no :20: field)");
    if (rc == KR_OK)
        rc = send_statement(m, err);
    free(m);
    return rc;
}
