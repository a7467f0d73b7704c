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

#endif
