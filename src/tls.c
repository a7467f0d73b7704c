/* SPDX-License-Identifier: MIT */
/* OpenSSL helpers: certificate details and the mapping of verify errors. */
#include "config.h"

#include "tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "xmem.h"

enum evt_verify tls_verify_from_x509(int x509_err)
{
    switch (x509_err) {
    case X509_V_OK:
        return EVT_VERIFY_OK;
    case X509_V_ERR_CERT_HAS_EXPIRED:
        return EVT_VERIFY_EXPIRED;
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return EVT_VERIFY_NOT_YET_VALID;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
        return EVT_VERIFY_HOSTNAME;
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        return EVT_VERIFY_SELF_SIGNED;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_UNTRUSTED:
        return EVT_VERIFY_UNTRUSTED;
    default:
        return EVT_VERIFY_OTHER;
    }
}

enum evt_cause tls_cause_from_verify(enum evt_verify v)
{
    switch (v) {
    case EVT_VERIFY_EXPIRED:
        return EVT_CAUSE_TLS_EXPIRED;
    case EVT_VERIFY_NOT_YET_VALID:
        return EVT_CAUSE_TLS_NOT_YET_VALID;
    case EVT_VERIFY_HOSTNAME:
        return EVT_CAUSE_TLS_HOSTNAME;
    case EVT_VERIFY_SELF_SIGNED:
        return EVT_CAUSE_TLS_SELF_SIGNED;
    case EVT_VERIFY_UNTRUSTED:
        return EVT_CAUSE_TLS_UNTRUSTED;
    case EVT_VERIFY_OTHER:
        return EVT_CAUSE_TLS_UNTRUSTED;
    default:
        return EVT_CAUSE_NONE;
    }
}

/* RFC 2253-ish one-line name, UTF-8, capped. */
static void name_line(X509_NAME *name, char *out, size_t len)
{
    BIO *b;
    long n;
    char *p;

    out[0] = '\0';
    if (!name || !len)
        return;
    b = BIO_new(BIO_s_mem());
    if (!b)
        return;
    if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
        n = BIO_get_mem_data(b, &p);
        if (n > 0) {
            size_t c = (size_t)n < len - 1 ? (size_t)n : len - 1;
            memcpy(out, p, c);
            out[c] = '\0';
        }
    }
    BIO_free(b);
}

static void sans_line(X509 *x, char *out, size_t len)
{
    GENERAL_NAMES *gens;
    size_t used = 0;
    int i;

    out[0] = '\0';
    gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    if (!gens)
        return;
    for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        char item[EVT_NAME_MAX];
        int w;

        item[0] = '\0';
        if (g->type == GEN_DNS) {
            const unsigned char *s = ASN1_STRING_get0_data(g->d.dNSName);
            int l = ASN1_STRING_length(g->d.dNSName);
            snprintf(item, sizeof(item), "DNS:%.*s", l > 200 ? 200 : l, (const char *)s);
        } else if (g->type == GEN_IPADD) {
            const unsigned char *s = ASN1_STRING_get0_data(g->d.iPAddress);
            int l = ASN1_STRING_length(g->d.iPAddress);
            if (l == 4)
                snprintf(item, sizeof(item), "IP:%u.%u.%u.%u", s[0], s[1], s[2], s[3]);
            else if (l == 16)
                snprintf(item, sizeof(item), "IP:%x:%x:%x:%x:%x:%x:%x:%x", s[0] << 8 | s[1],
                         s[2] << 8 | s[3], s[4] << 8 | s[5], s[6] << 8 | s[7], s[8] << 8 | s[9],
                         s[10] << 8 | s[11], s[12] << 8 | s[13], s[14] << 8 | s[15]);
        }
        if (!item[0])
            continue;
        w = snprintf(out + used, len - used, "%s%s", used ? "," : "", item);
        if (w < 0 || (size_t)w >= len - used) {
            out[used] = '\0';
            break;
        }
        used += (size_t)w;
    }
    GENERAL_NAMES_free(gens);
}

void tls_fill_cert(const void *x509, struct evt_tls *out)
{
    X509 *x = (X509 *)x509;
    const ASN1_TIME *na;
    struct tm tm;

    if (!x)
        return;
    name_line(X509_get_subject_name(x), out->subject, sizeof(out->subject));
    name_line(X509_get_issuer_name(x), out->issuer, sizeof(out->issuer));
    sans_line(x, out->sans, sizeof(out->sans));
    na = X509_get0_notAfter(x);
    if (na && ASN1_TIME_to_tm(na, &tm) == 1)
        out->not_after_s = (int64_t)timegm(&tm);
}

void tls_fill_session(const void *ssl_, struct evt_tls *out)
{
    SSL *ssl = (SSL *)ssl_;
    const unsigned char *alpn = NULL;
    unsigned int alpn_len = 0;
    const char *v, *c;
    X509 *peer;

    if (!ssl)
        return;
    v = SSL_get_version(ssl);
    c = SSL_get_cipher_name(ssl);
    if (v)
        xstrlcpy(out->version, v, sizeof(out->version));
    if (c)
        xstrlcpy(out->cipher, c, sizeof(out->cipher));
    SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
    if (alpn && alpn_len && alpn_len < sizeof(out->alpn)) {
        memcpy(out->alpn, alpn, alpn_len);
        out->alpn[alpn_len] = '\0';
    }
    peer = SSL_get1_peer_certificate(ssl);
    if (peer) {
        tls_fill_cert(peer, out);
        X509_free(peer);
    }
}

int tls_verify_peek(void *x509_store_ctx, struct evt_tls *out, int clear)
{
    X509_STORE_CTX *ctx = x509_store_ctx;
    int err = X509_STORE_CTX_get_error(ctx);
    int depth = X509_STORE_CTX_get_error_depth(ctx);

    if (out && !out->subject[0]) {
        X509 *leaf = X509_STORE_CTX_get0_cert(ctx);
        if (leaf)
            tls_fill_cert(leaf, out);
    }
    (void)depth;
    if (clear && err != X509_V_OK)
        X509_STORE_CTX_set_error(ctx, X509_V_OK);
    return err;
}

struct tls_watch {
    void (*done)(void *arg, void *ssl);
    void *arg;
};

static int watch_idx = -1;

static void info_cb(const SSL *ssl, int where, int ret)
{
    struct tls_watch *w;

    (void)ret;
    if (!(where & SSL_CB_HANDSHAKE_DONE) || watch_idx < 0)
        return;
    w = SSL_get_ex_data(ssl, watch_idx);
    if (!w)
        return;
    /* once: TLS 1.3 may report "done" again for session tickets */
    SSL_set_ex_data((SSL *)ssl, watch_idx, NULL);
    w->done(w->arg, (void *)ssl);
    free(w);
}

static void watch_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    free(ptr);
}

void tls_watch_handshake(void *ssl, void (*done)(void *arg, void *ssl), void *arg)
{
    struct tls_watch *w;

    if (watch_idx < 0)
        watch_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, watch_free);
    if (watch_idx < 0)
        return;
    tls_unwatch(ssl);
    w = xmalloc(sizeof(*w));
    w->done = done;
    w->arg = arg;
    SSL_set_ex_data(ssl, watch_idx, w);
    SSL_set_info_callback(ssl, info_cb);
}

void tls_unwatch(void *ssl)
{
    struct tls_watch *w;

    if (watch_idx < 0 || !ssl)
        return;
    w = SSL_get_ex_data(ssl, watch_idx);
    if (w) {
        SSL_set_ex_data(ssl, watch_idx, NULL);
        free(w);
    }
}
