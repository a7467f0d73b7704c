/* SPDX-License-Identifier: MIT */
/* OpenSSL helpers: certificate details and verify-error mapping. */
#ifndef WSMON_SRC_TLS_H
#define WSMON_SRC_TLS_H

#include "evt.h"

/* Map an OpenSSL X509_V_ERR_* code to a verify result and a cause. */
enum evt_verify tls_verify_from_x509(int x509_err);
enum evt_cause tls_cause_from_verify(enum evt_verify v);

/* Fill version, cipher, alpn, subject, issuer, sans, not_after_s of out from an SSL* (void
 * to keep OpenSSL out of the header). Fields not available are left empty. */
void tls_fill_session(const void *ssl, struct evt_tls *out);
/* Fill subject, issuer, sans and not_after_s from an X509* peer certificate. */
void tls_fill_cert(const void *x509, struct evt_tls *out);

/* In the verify callback (lws callback 58): the store context's error (X509_V_ERR_*), and
 * the leaf certificate's names and dates into out when depth is 0. With clear, the error
 * is reset to X509_V_OK so that the handshake goes on (--insecure). Returns the error. */
int tls_verify_peek(void *x509_store_ctx, struct evt_tls *out, int clear);

/* Call done(arg) once, when the handshake on ssl completes (SSL_CB_HANDSHAKE_DONE). arg must
 * stay valid until tls_unwatch(ssl) or the end of the SSL object. */
void tls_watch_handshake(void *ssl, void (*done)(void *arg, void *ssl), void *arg);
void tls_unwatch(void *ssl);

#endif
