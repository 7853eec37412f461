/*
 * expr.c - parser (recursive descent, one token of look-ahead) and
 * evaluator of the form expression language (see expr.h and docs/forms.md).
 */
#include "forms/expr.h"

#include <stdio.h>
#include <string.h>

enum node_kind { N_LIT, N_REF, N_NOT, N_NEG, N_BIN, N_LIST, N_CALL };

enum bin_op {
    OP_OR,
    OP_AND,
    OP_EQ,
    OP_NE,
    OP_LT,
    OP_LE,
    OP_GT,
    OP_GE,
    OP_IN,
    OP_NOT_IN,
    OP_ADD,
    OP_SUB,
    OP_MUL,
    OP_DIV,
    OP_MOD,
};

enum fn_id { FN_TODAY, FN_DATE, FN_YEARS, FN_COUNT, FN_EMPTY, FN_IF };

struct node {
    enum node_kind kind;
    int op; /* enum bin_op or enum fn_id */
    struct expr_value lit;
    const char *name;
    struct node **kids;
    size_t nkids;
};

struct expr {
    const char *text;
    struct node *root;
};

/* ---- Dates and money ---------------------------------------------------- */

/* Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian). */
int64_t expr_days_from_civil(int y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void expr_civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yoe + era * 400) + (*m <= 2);
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int expr_date_parse(const char *s, int64_t *days)
{
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return KR_ERR_INVALID;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !is_digit(s[i]))
            return KR_ERR_INVALID;
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    unsigned m = (unsigned)((s[5] - '0') * 10 + (s[6] - '0'));
    unsigned d = (unsigned)((s[8] - '0') * 10 + (s[9] - '0'));
    if (y < 1000 || m < 1 || m > 12 || d < 1)
        return KR_ERR_INVALID;
    int64_t z = expr_days_from_civil(y, m, d);
    int y2;
    unsigned m2, d2;
    expr_civil_from_days(z, &y2, &m2, &d2);
    if (y2 != y || m2 != m || d2 != d) /* 31 April, 29 February 2025 */
        return KR_ERR_INVALID;
    *days = z;
    return KR_OK;
}

void expr_date_format(int64_t days, char *out, size_t size)
{
    int y;
    unsigned m, d;
    expr_civil_from_days(days, &y, &m, &d);
    snprintf(out, size, "%04d-%02u-%02u", y, m, d);
}

#define MONEY_MAX_CENTS 1000000000000000LL /* 10^13 EUR */

int expr_money_parse(const char *s, int64_t *cents)
{
    if (!s)
        return KR_ERR_INVALID;
    bool neg = *s == '-';
    if (neg)
        s++;
    if (!is_digit(*s))
        return KR_ERR_INVALID;
    int64_t v = 0;
    while (is_digit(*s)) {
        v = v * 10 + (*s++ - '0');
        if (v >= MONEY_MAX_CENTS / 100)
            return KR_ERR_INVALID;
    }
    v *= 100;
    if (*s == '.' || *s == ',') {
        s++;
        if (!is_digit(*s))
            return KR_ERR_INVALID;
        v += (*s++ - '0') * 10;
        if (is_digit(*s))
            v += *s++ - '0';
    }
    if (*s)
        return KR_ERR_INVALID;
    *cents = neg ? -v : v;
    return KR_OK;
}

void expr_money_format(int64_t cents, char *out, size_t size)
{
    uint64_t a = cents < 0 ? (uint64_t)0 - (uint64_t)cents : (uint64_t)cents;
    snprintf(out, size, "%s%llu.%02llu", cents < 0 ? "-" : "", (unsigned long long)(a / 100),
             (unsigned long long)(a % 100));
}

/* ---- Lexer ------------------------------------------------------------------ */

enum tok {
    T_END,
    T_NUM,
    T_MONEY,
    T_STR,
    T_IDENT,
    T_LPAREN,
    T_RPAREN,
    T_LBRACK,
    T_RBRACK,
    T_COMMA,
    T_OP, /* comparison or arithmetic, op in tok_op */
    T_ERR,
};

struct parser {
    struct arena *a;
    const char *src;
    size_t pos;  /* of the next unread byte */
    size_t tpos; /* start of the current token */
    enum tok tok;
    int tok_op; /* enum bin_op for T_OP */
    const char *tstart;
    size_t tlen;
    int64_t tnum;
    char *tstr;
    int depth;
    expr_known_fn known;
    void *ctx;
    struct kr_error *err;
    int rc;
};

static int fail(struct parser *p, const char *fmt, const char *arg)
{
    if (p->rc == KR_OK) {
        char msg[160];
        snprintf(msg, sizeof(msg), fmt, arg ? arg : "");
        p->rc = kr_error_set(p->err, KR_ERR_INVALID, "column %zu: %s", p->tpos + 1, msg);
    }
    return p->rc;
}

static bool ident_char(char c, bool first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           (!first && (is_digit(c) || c == '.'));
}

static void lex_number(struct parser *p)
{
    const char *s = p->src + p->pos;
    size_t n = 0;
    int64_t v = 0;
    while (is_digit(s[n])) {
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, s[n++] - '0', &v))
            goto bad;
    }
    if (s[n] == '.' && is_digit(s[n + 1])) {
        char buf[40];
        size_t m = n + 1;
        while (is_digit(s[m]))
            m++;
        if (m >= sizeof(buf) || m - n - 1 > 2)
            goto bad;
        memcpy(buf, s, m);
        buf[m] = '\0';
        if (expr_money_parse(buf, &p->tnum) != KR_OK)
            goto bad;
        p->tok = T_MONEY;
        p->pos += m;
        return;
    }
    p->tok = T_NUM;
    p->tnum = v;
    p->pos += n;
    return;
bad:
    p->tok = T_ERR;
    fail(p, "number out of range or with more than two decimals%s", "");
}

static void lex_string(struct parser *p)
{
    char q = p->src[p->pos++];
    size_t start = p->pos;
    while (p->src[p->pos] && p->src[p->pos] != q)
        p->pos++;
    if (!p->src[p->pos]) {
        p->tok = T_ERR;
        fail(p, "unterminated string%s", "");
        return;
    }
    p->tstr = arena_strndup(p->a, p->src + start, p->pos - start);
    p->pos++;
    p->tok = p->tstr ? T_STR : T_ERR;
    if (!p->tstr && p->rc == KR_OK)
        p->rc = kr_error_set(p->err, KR_ERR_NOMEM, "out of memory");
}

static bool lex_op(struct parser *p)
{
    static const struct {
        const char *s;
        int op;
    } ops[] = {{"==", OP_EQ}, {"!=", OP_NE}, {"<=", OP_LE}, {">=", OP_GE},
               {"<", OP_LT},  {">", OP_GT},  {"+", OP_ADD}, {"-", OP_SUB},
               {"*", OP_MUL}, {"/", OP_DIV}, {"%", OP_MOD}};
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        size_t n = strlen(ops[i].s);
        if (strncmp(p->src + p->pos, ops[i].s, n) == 0) {
            p->tok = T_OP;
            p->tok_op = ops[i].op;
            p->pos += n;
            return true;
        }
    }
    return false;
}

static void next(struct parser *p)
{
    const char *s = p->src;
    while (s[p->pos] == ' ' || s[p->pos] == '\t' || s[p->pos] == '\n' || s[p->pos] == '\r')
        p->pos++;
    p->tpos = p->pos;
    char c = s[p->pos];
    static const char punct[] = "()[],";
    static const enum tok ptok[] = {T_LPAREN, T_RPAREN, T_LBRACK, T_RBRACK, T_COMMA};
    if (!c) {
        p->tok = T_END;
    } else if (strchr(punct, c)) {
        p->tok = ptok[strchr(punct, c) - punct];
        p->pos++;
    } else if (is_digit(c)) {
        lex_number(p);
    } else if (c == '"' || c == '\'') {
        lex_string(p);
    } else if (ident_char(c, true)) {
        p->tstart = s + p->pos;
        while (ident_char(s[p->pos], false))
            p->pos++;
        p->tlen = (size_t)(s + p->pos - p->tstart);
        p->tok = T_IDENT;
    } else if (!lex_op(p)) {
        p->tok = T_ERR;
        char ch[2] = {c, 0};
        fail(p, "unexpected character '%s'", (unsigned char)c < 0x20 ? "?" : ch);
    }
}

static bool is_word(const struct parser *p, const char *w)
{
    return p->tok == T_IDENT && p->tlen == strlen(w) && strncmp(p->tstart, w, p->tlen) == 0;
}

/* ---- Parser ----------------------------------------------------------------- */

static struct node *new_node(struct parser *p, enum node_kind kind, int op, size_t nkids)
{
    struct node *n = arena_zalloc(p->a, sizeof(*n));
    if (n && nkids)
        n->kids = arena_calloc(p->a, nkids, sizeof(*n->kids));
    if (!n || (nkids && !n->kids)) {
        if (p->rc == KR_OK)
            p->rc = kr_error_set(p->err, KR_ERR_NOMEM, "out of memory");
        return NULL;
    }
    n->kind = kind;
    n->op = op;
    n->nkids = nkids;
    return n;
}

static struct node *parse_or(struct parser *p);

static struct node *binary(struct parser *p, int op, struct node *l, struct node *r)
{
    if (!l || !r)
        return NULL;
    struct node *n = new_node(p, N_BIN, op, 2);
    if (n) {
        n->kids[0] = l;
        n->kids[1] = r;
    }
    return n;
}

/* Comma-separated expressions up to the closing token; *count gets them. */
static struct node **parse_items(struct parser *p, enum tok close, size_t *count)
{
    struct node *tmp[32];
    size_t n = 0;
    if (p->tok != close) {
        for (;;) {
            if (n == sizeof(tmp) / sizeof(tmp[0])) {
                fail(p, "more than 32 items%s", "");
                return NULL;
            }
            if (!(tmp[n++] = parse_or(p)))
                return NULL;
            if (p->tok != T_COMMA)
                break;
            next(p);
        }
    }
    if (p->tok != close) {
        fail(p, "expected '%s'", close == T_RPAREN ? ")" : "]");
        return NULL;
    }
    next(p);
    struct node **kids = arena_calloc(p->a, n ? n : 1, sizeof(*kids));
    if (!kids) {
        fail(p, "out of memory%s", "");
        return NULL;
    }
    memcpy(kids, tmp, n * sizeof(*kids));
    *count = n;
    return kids;
}

static struct node *parse_call(struct parser *p, const char *name, size_t tpos)
{
    static const struct {
        const char *name;
        int fn;
        size_t arity;
    } fns[] = {{"today", FN_TODAY, 0}, {"date", FN_DATE, 1},   {"years", FN_YEARS, 2},
               {"count", FN_COUNT, 1}, {"empty", FN_EMPTY, 1}, {"if", FN_IF, 3}};
    size_t i = 0;
    while (i < sizeof(fns) / sizeof(fns[0]) && strcmp(fns[i].name, name) != 0)
        i++;
    if (i == sizeof(fns) / sizeof(fns[0])) {
        p->tpos = tpos;
        fail(p, "unknown function '%s'", name);
        return NULL;
    }
    next(p); /* the '(' */
    struct node *n = new_node(p, N_CALL, fns[i].fn, 0);
    if (!n || !(n->kids = parse_items(p, T_RPAREN, &n->nkids)))
        return NULL;
    if (n->nkids != fns[i].arity) {
        p->tpos = tpos;
        fail(p, "wrong number of arguments to '%s'", name);
        return NULL;
    }
    if (fns[i].fn == FN_DATE && n->kids[0]->kind == N_LIT) {
        /* A literal date is checked (and folded) now. */
        int64_t days;
        if (n->kids[0]->lit.type != EXPR_STRING || expr_date_parse(n->kids[0]->lit.s, &days)) {
            p->tpos = tpos;
            fail(p, "date() needs \"YYYY-MM-DD\"%s", "");
            return NULL;
        }
        n->kind = N_LIT;
        n->lit = (struct expr_value){.type = EXPR_DATE, .i = days};
    }
    return n;
}

static struct node *parse_ident(struct parser *p)
{
    char *name = arena_strndup(p->a, p->tstart, p->tlen);
    if (!name) {
        fail(p, "out of memory%s", "");
        return NULL;
    }
    struct node *n;
    if (strcmp(name, "true") == 0 || strcmp(name, "false") == 0 || strcmp(name, "null") == 0) {
        if (!(n = new_node(p, N_LIT, 0, 0)))
            return NULL;
        if (name[0] != 'n')
            n->lit = (struct expr_value){.type = EXPR_BOOL, .i = name[0] == 't'};
        next(p);
        return n;
    }
    size_t tpos = p->tpos;
    next(p);
    if (p->tok == T_LPAREN)
        return parse_call(p, name, tpos);
    const char *problem = NULL;
    if (name[strlen(name) - 1] == '.' || strstr(name, ".."))
        problem = "malformed field name '%s'";
    else if (p->known && !p->known(p->ctx, name))
        problem = "unknown field '%s'";
    if (problem) {
        p->tpos = tpos; /* report the name's column; parsing stops here */
        fail(p, problem, name);
        return NULL;
    }
    if (!(n = new_node(p, N_REF, 0, 0)))
        return NULL;
    n->name = name;
    return n;
}

static struct node *parse_primary(struct parser *p)
{
    struct node *n = NULL;
    switch (p->tok) {
    case T_NUM:
    case T_MONEY:
        if ((n = new_node(p, N_LIT, 0, 0)))
            n->lit = (struct expr_value){.type = p->tok == T_NUM ? EXPR_NUMBER : EXPR_MONEY,
                                         .i = p->tnum};
        next(p);
        return n;
    case T_STR:
        if ((n = new_node(p, N_LIT, 0, 0)))
            n->lit = (struct expr_value){.type = EXPR_STRING, .s = p->tstr, .n = strlen(p->tstr)};
        next(p);
        return n;
    case T_IDENT: return parse_ident(p);
    case T_LPAREN:
        next(p);
        n = parse_or(p);
        if (n && p->tok != T_RPAREN) {
            fail(p, "expected ')'%s", "");
            return NULL;
        }
        next(p);
        return n;
    case T_LBRACK:
        next(p);
        if (!(n = new_node(p, N_LIST, 0, 0)) || !(n->kids = parse_items(p, T_RBRACK, &n->nkids)))
            return NULL;
        return n;
    case T_END: fail(p, "unexpected end of expression%s", ""); return NULL;
    default: fail(p, "unexpected token%s", ""); return NULL;
    }
}

static bool enter(struct parser *p)
{
    if (++p->depth > EXPR_MAX_DEPTH) {
        fail(p, "expression nested too deeply%s", "");
        return false;
    }
    return true;
}

static struct node *parse_unary(struct parser *p)
{
    if (!enter(p))
        return NULL;
    struct node *n;
    if (p->tok == T_OP && p->tok_op == OP_SUB) {
        next(p);
        struct node *k = parse_unary(p);
        if (!k || !(n = new_node(p, N_NEG, 0, 1)))
            return NULL;
        n->kids[0] = k;
    } else {
        n = parse_primary(p);
    }
    p->depth--;
    return n;
}

static struct node *parse_mul(struct parser *p)
{
    struct node *l = parse_unary(p);
    while (l && p->tok == T_OP &&
           (p->tok_op == OP_MUL || p->tok_op == OP_DIV || p->tok_op == OP_MOD)) {
        int op = p->tok_op;
        next(p);
        l = binary(p, op, l, parse_unary(p));
    }
    return l;
}

static struct node *parse_add(struct parser *p)
{
    struct node *l = parse_mul(p);
    while (l && p->tok == T_OP && (p->tok_op == OP_ADD || p->tok_op == OP_SUB)) {
        int op = p->tok_op;
        next(p);
        l = binary(p, op, l, parse_mul(p));
    }
    return l;
}

static struct node *parse_cmp(struct parser *p)
{
    struct node *l = parse_add(p);
    if (!l)
        return NULL;
    if (p->tok == T_OP && p->tok_op >= OP_EQ && p->tok_op <= OP_GE) {
        int op = p->tok_op;
        next(p);
        l = binary(p, op, l, parse_add(p));
    } else if (is_word(p, "in")) {
        next(p);
        l = binary(p, OP_IN, l, parse_add(p));
    } else if (is_word(p, "not")) {
        next(p);
        if (!is_word(p, "in")) {
            fail(p, "expected 'in' after 'not'%s", "");
            return NULL;
        }
        next(p);
        l = binary(p, OP_NOT_IN, l, parse_add(p));
    }
    if (l && p->tok == T_OP && p->tok_op >= OP_EQ && p->tok_op <= OP_GE) {
        fail(p, "comparisons do not chain: use 'and'%s", "");
        return NULL;
    }
    return l;
}

static struct node *parse_not(struct parser *p)
{
    if (!enter(p))
        return NULL;
    struct node *n;
    if (is_word(p, "not")) {
        next(p);
        struct node *k = parse_not(p);
        if (!k || !(n = new_node(p, N_NOT, 0, 1)))
            return NULL;
        n->kids[0] = k;
    } else {
        n = parse_cmp(p);
    }
    p->depth--;
    return n;
}

static struct node *parse_and(struct parser *p)
{
    struct node *l = parse_not(p);
    while (l && is_word(p, "and")) {
        next(p);
        l = binary(p, OP_AND, l, parse_not(p));
    }
    return l;
}

static struct node *parse_or(struct parser *p)
{
    if (!enter(p))
        return NULL;
    struct node *l = parse_and(p);
    while (l && is_word(p, "or")) {
        next(p);
        l = binary(p, OP_OR, l, parse_and(p));
    }
    p->depth--;
    return l;
}

int expr_parse(struct arena *a, const char *text, expr_known_fn known, void *ctx, struct expr **out,
               struct kr_error *err)
{
    if (!text || strlen(text) > EXPR_MAX_LEN)
        return kr_error_set(err, KR_ERR_INVALID, "expression longer than %d bytes", EXPR_MAX_LEN);
    struct parser p = {.a = a, .known = known, .ctx = ctx, .err = err};
    struct expr *e = arena_zalloc(a, sizeof(*e));
    if (!e || !(p.src = e->text = arena_strdup(a, text)))
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    next(&p);
    e->root = p.rc ? NULL : parse_or(&p);
    if (p.rc == KR_OK && p.tok != T_END)
        fail(&p, "unexpected text after the expression%s", "");
    if (p.rc)
        return p.rc;
    if (!e->root)
        return kr_error_set(err, KR_ERR_INVALID, "empty expression");
    *out = e;
    return KR_OK;
}

const char *expr_text(const struct expr *e)
{
    return e->text;
}

static void refs_walk(const struct node *n, void (*fn)(void *, const char *), void *ctx)
{
    if (n->kind == N_REF)
        fn(ctx, n->name);
    for (size_t i = 0; i < n->nkids; i++)
        refs_walk(n->kids[i], fn, ctx);
}

void expr_refs(const struct expr *e, void (*fn)(void *ctx, const char *name), void *ctx)
{
    refs_walk(e->root, fn, ctx);
}

/* ---- Evaluator -------------------------------------------------------------- */

struct eval {
    const struct expr_env *env;
    struct arena *a;
};

static const struct expr_value null_value = {.type = EXPR_NULL};

static void eval_node(struct eval *ev, const struct node *n, struct expr_value *out);

static bool values_equal(const struct expr_value *x, const struct expr_value *y)
{
    if (x->type != y->type)
        return false;
    switch (x->type) {
    case EXPR_NULL: return true;
    case EXPR_STRING: return x->n == y->n && memcmp(x->s, y->s, x->n) == 0;
    case EXPR_LIST:
        if (x->n != y->n)
            return false;
        for (size_t i = 0; i < x->n; i++)
            if (!values_equal(&x->items[i], &y->items[i]))
                return false;
        return true;
    default: return x->i == y->i;
    }
}

/* Ordering of two values of the same ordered type; false when they are
 * not comparable. */
static bool values_order(const struct expr_value *x, const struct expr_value *y, int *cmp)
{
    if (x->type != y->type)
        return false;
    switch (x->type) {
    case EXPR_NUMBER:
    case EXPR_MONEY:
    case EXPR_DATE: *cmp = (x->i > y->i) - (x->i < y->i); return true;
    case EXPR_STRING: {
        size_t m = x->n < y->n ? x->n : y->n;
        int c = memcmp(x->s, y->s, m);
        *cmp = c ? (c > 0) - (c < 0) : (x->n > y->n) - (x->n < y->n);
        return true;
    }
    default: return false;
    }
}

static bool contains(const struct expr_value *item, const struct expr_value *set)
{
    if (set->type == EXPR_LIST) {
        for (size_t i = 0; i < set->n; i++)
            if (values_equal(item, &set->items[i]))
                return true;
        return false;
    }
    if (set->type == EXPR_STRING && item->type == EXPR_STRING)
        return item->n <= set->n && memmem(set->s, set->n, item->s, item->n) != NULL;
    return false;
}

static void set_num(struct expr_value *out, enum expr_type t, int64_t v)
{
    *out = (struct expr_value){.type = t, .i = v};
}

/* Division rounding half away from zero, as for money. */
static int64_t div_round(int64_t a, int64_t b)
{
    int64_t q = a / b, r = a % b;
    int64_t ar = r < 0 ? -r : r, ab = b < 0 ? -b : b;
    if (ar >= ab - ar)
        q += ((a < 0) == (b < 0)) ? 1 : -1;
    return q;
}

static void arith(int op, const struct expr_value *x, const struct expr_value *y,
                  struct expr_value *out)
{
    enum expr_type tx = x->type, ty = y->type;
    int64_t r;
    *out = null_value;
    if (op == OP_ADD || op == OP_SUB) {
        enum expr_type t;
        if (tx == ty && (tx == EXPR_NUMBER || tx == EXPR_MONEY))
            t = tx;
        else if (tx == EXPR_DATE && ty == EXPR_NUMBER)
            t = EXPR_DATE; /* date +/- days */
        else if (op == OP_ADD && tx == EXPR_NUMBER && ty == EXPR_DATE)
            t = EXPR_DATE;
        else if (op == OP_SUB && tx == EXPR_DATE && ty == EXPR_DATE)
            t = EXPR_NUMBER; /* days between */
        else
            return;
        bool ovf = op == OP_ADD ? __builtin_add_overflow(x->i, y->i, &r)
                                : __builtin_sub_overflow(x->i, y->i, &r);
        if (!ovf)
            set_num(out, t, r);
        return;
    }
    if (op == OP_MUL) {
        enum expr_type t;
        if (tx == EXPR_NUMBER && ty == EXPR_NUMBER)
            t = EXPR_NUMBER;
        else if ((tx == EXPR_MONEY && ty == EXPR_NUMBER) || (tx == EXPR_NUMBER && ty == EXPR_MONEY))
            t = EXPR_MONEY;
        else
            return;
        if (!__builtin_mul_overflow(x->i, y->i, &r))
            set_num(out, t, r);
        return;
    }
    /* / and %: number by number, money by number (rounded to the cent),
     * money by money gives a number (how many times). */
    if (ty != EXPR_NUMBER && !(tx == EXPR_MONEY && ty == EXPR_MONEY && op == OP_DIV))
        return;
    if ((tx != EXPR_NUMBER && tx != EXPR_MONEY) || y->i == 0 || (x->i == INT64_MIN && y->i == -1))
        return;
    if (op == OP_MOD)
        set_num(out, tx, x->i % y->i);
    else if (tx == EXPR_MONEY && ty == EXPR_NUMBER)
        set_num(out, EXPR_MONEY, div_round(x->i, y->i));
    else
        set_num(out, EXPR_NUMBER, x->i / y->i);
}

static void eval_bin(struct eval *ev, const struct node *n, struct expr_value *out)
{
    struct expr_value x, y;
    eval_node(ev, n->kids[0], &x);
    if (n->op == OP_AND || n->op == OP_OR) {
        bool lx = x.type == EXPR_BOOL && x.i;
        if (n->op == OP_AND ? !lx : lx) {
            set_num(out, EXPR_BOOL, lx);
            return;
        }
        eval_node(ev, n->kids[1], &y);
        set_num(out, EXPR_BOOL, y.type == EXPR_BOOL && y.i);
        return;
    }
    eval_node(ev, n->kids[1], &y);
    int c;
    switch (n->op) {
    case OP_EQ: set_num(out, EXPR_BOOL, values_equal(&x, &y)); return;
    case OP_NE: set_num(out, EXPR_BOOL, !values_equal(&x, &y)); return;
    case OP_LT:
    case OP_LE:
    case OP_GT:
    case OP_GE:
        if (!values_order(&x, &y, &c))
            set_num(out, EXPR_BOOL, 0);
        else
            set_num(out, EXPR_BOOL,
                    n->op == OP_LT   ? c < 0
                    : n->op == OP_LE ? c <= 0
                    : n->op == OP_GT ? c > 0
                                     : c >= 0);
        return;
    case OP_IN: set_num(out, EXPR_BOOL, contains(&x, &y)); return;
    case OP_NOT_IN: set_num(out, EXPR_BOOL, !contains(&x, &y)); return;
    default: arith(n->op, &x, &y, out); return;
    }
}

/* Full years from date a to date b (age on b of someone born on a). */
static int64_t full_years(int64_t a, int64_t b)
{
    int ya, yb;
    unsigned ma, da, mb, db;
    expr_civil_from_days(a, &ya, &ma, &da);
    expr_civil_from_days(b, &yb, &mb, &db);
    int64_t y = yb - ya;
    if (mb < ma || (mb == ma && db < da))
        y--;
    return y;
}

static void eval_call(struct eval *ev, const struct node *n, struct expr_value *out)
{
    struct expr_value x = null_value, y = null_value;
    if (n->op == FN_IF) { /* only the chosen branch is evaluated */
        eval_node(ev, n->kids[0], &x);
        eval_node(ev, n->kids[x.type == EXPR_BOOL && x.i ? 1 : 2], out);
        return;
    }
    if (n->nkids > 0)
        eval_node(ev, n->kids[0], &x);
    if (n->nkids > 1)
        eval_node(ev, n->kids[1], &y);
    *out = null_value;
    switch (n->op) {
    case FN_TODAY: set_num(out, EXPR_DATE, ev->env->today); return;
    case FN_DATE: {
        int64_t d;
        if (x.type == EXPR_DATE)
            *out = x;
        else if (x.type == EXPR_STRING && expr_date_parse(x.s, &d) == KR_OK)
            set_num(out, EXPR_DATE, d);
        return;
    }
    case FN_YEARS:
        if (x.type == EXPR_DATE && y.type == EXPR_DATE)
            set_num(out, EXPR_NUMBER, full_years(x.i, y.i));
        return;
    case FN_COUNT:
        if (x.type == EXPR_LIST || x.type == EXPR_STRING)
            set_num(out, EXPR_NUMBER, (int64_t)x.n);
        else
            set_num(out, EXPR_NUMBER, x.type != EXPR_NULL);
        return;
    default: /* FN_EMPTY */
        set_num(out, EXPR_BOOL,
                x.type == EXPR_NULL || ((x.type == EXPR_STRING || x.type == EXPR_LIST) && !x.n));
        return;
    }
}

static void eval_node(struct eval *ev, const struct node *n, struct expr_value *out)
{
    switch (n->kind) {
    case N_LIT: *out = n->lit; return;
    case N_REF:
        *out = null_value;
        if (ev->env && ev->env->lookup)
            ev->env->lookup(ev->env->ctx, n->name, out);
        return;
    case N_NOT: {
        struct expr_value x;
        eval_node(ev, n->kids[0], &x);
        set_num(out, EXPR_BOOL, !(x.type == EXPR_BOOL && x.i));
        return;
    }
    case N_NEG: {
        struct expr_value x;
        eval_node(ev, n->kids[0], &x);
        *out = null_value;
        if ((x.type == EXPR_NUMBER || x.type == EXPR_MONEY) && x.i != INT64_MIN)
            set_num(out, x.type, -x.i);
        return;
    }
    case N_BIN: eval_bin(ev, n, out); return;
    case N_CALL: eval_call(ev, n, out); return;
    case N_LIST: {
        struct expr_value *items = arena_calloc(ev->a, n->nkids ? n->nkids : 1, sizeof(*items));
        *out = null_value;
        if (!items)
            return;
        for (size_t i = 0; i < n->nkids; i++)
            eval_node(ev, n->kids[i], &items[i]);
        *out = (struct expr_value){.type = EXPR_LIST, .items = items, .n = n->nkids};
        return;
    }
    }
}

void expr_eval(const struct expr *e, const struct expr_env *env, struct arena *a,
               struct expr_value *out)
{
    struct eval ev = {.env = env, .a = a};
    eval_node(&ev, e->root, out);
}

bool expr_true(const struct expr *e, const struct expr_env *env, struct arena *a)
{
    struct expr_value v;
    expr_eval(e, env, a, &v);
    return v.type == EXPR_BOOL && v.i;
}
