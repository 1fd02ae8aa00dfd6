/* tls: OpenSSL 3 contexts (TLS 1.3, ALPN, SPKI pinning as curl --pinnedpubkey), certificate
 * generation (RFC 5280) and bufferevents over libevent 2.1. Only this file includes OpenSSL's
 * TLS headers. */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/util.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tls.h"
#include "log.h"
#include "util.h"

#define TLS_CERT_FILE_MAX	(1024 * 1024)	/* larger PEM certificate files are refused */
#define TLS_KEY_FILE_MAX	(64 * 1024)
#define TLS_SHA256_LEN		32
#define TLS_PIN_PREFIX		"sha256//"
#define TLS_PIN_B64_LEN		44		/* base64 of 32 bytes, with one '=' */
#define TLS_DAYS_MAX		36500
#define TLS_CN_MAX		64		/* ub-common-name, RFC 5280 appendix A.1 */
#define TLS_SERIAL_LEN		16
#define TLS_ALPN_WIRE_MAX	65535		/* the extension's length field */
/* Cipher suites when TLS 1.2 is allowed: forward secrecy and AEAD only (TLS 1.3 has no others). */
#define TLS_CIPHERS_TLS12	"ECDHE+AESGCM:ECDHE+CHACHA20"

/*
 * A context. It hangs off its SSL_CTX as ex_data and is freed with it, so connections (which
 * hold references to the SSL_CTX) keep the ALPN list and the pin their callbacks read alive.
 */
struct tls_ctx {
	SSL_CTX		*ssl_ctx;
	bool		 server;
	unsigned char	*alpn;		/* wire format: length-prefixed names, or NULL */
	size_t		 alpnlen;
	bool		 has_ca;
	bool		 has_pin;
	unsigned char	 pin[TLS_SHA256_LEN];
};

static CRYPTO_ONCE tls_ex_once = CRYPTO_ONCE_STATIC_INIT;
static int tls_ex_index = -1;

/* Frees our struct when OpenSSL frees the SSL_CTX it hangs off. */
static void
tls_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	struct tls_ctx *ctx = ptr;

	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	if (ctx == NULL)
		return;
	free(ctx->alpn);
	util_cleanse(ctx, sizeof(*ctx));
	free(ctx);
}

/* Registers the SSL_CTX ex_data slot our struct hangs off (once per process). */
static void
tls_ex_init(void)
{
	tls_ex_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, tls_ex_free);
}

/* Refuses to prompt on a terminal for the password of an encrypted PEM key. */
static int
tls_no_password(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* SHA-256 of the DER SubjectPublicKeyInfo of x. */
static int
tls_spki_sha256(X509 *x, unsigned char md[TLS_SHA256_LEN])
{
	unsigned char *der = NULL;
	unsigned int mdlen = 0;
	int len, ret = -1;

	if ((len = i2d_PUBKEY(X509_get0_pubkey(x), &der)) <= 0)
		goto out;
	if (EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != TLS_SHA256_LEN)
		goto out;
	ret = 0;
out:
	OPENSSL_free(der);
	return ret;
}

/* Formats a SHA-256 digest as "sha256//BASE64". */
static int
tls_pin_format(const unsigned char md[TLS_SHA256_LEN], char *pin, size_t len)
{
	size_t plen = sizeof(TLS_PIN_PREFIX) - 1;

	if (len < plen + TLS_PIN_B64_LEN + 1)
		return -1;
	memcpy(pin, TLS_PIN_PREFIX, plen);
	if (util_b64_encode(md, TLS_SHA256_LEN, pin + plen, len - plen) != TLS_PIN_B64_LEN)
		return -1;
	return 0;
}

/* Parses "sha256//BASE64" (the format of curl --pinnedpubkey) into a digest. */
static int
tls_pin_parse(const char *pin, unsigned char md[TLS_SHA256_LEN])
{
	size_t plen = sizeof(TLS_PIN_PREFIX) - 1;
	const char *b64;

	if (strncmp(pin, TLS_PIN_PREFIX, plen) != 0)
		goto bad;
	b64 = pin + plen;
	if (strlen(b64) != TLS_PIN_B64_LEN ||
	    util_b64_decode(b64, TLS_PIN_B64_LEN, md, TLS_SHA256_LEN) != TLS_SHA256_LEN)
		goto bad;
	return 0;
bad:
	log_errorx("pin '%s' is not \"sha256//\" followed by the base64 of a SHA-256 digest "
	    "(%d characters): compute it with 'openssl x509 -in CERT -pubkey -noout | "
	    "openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64'",
	    pin, TLS_PIN_B64_LEN);
	return -1;
}

/* Reads every certificate of a PEM file (at least one), in file order. */
static STACK_OF(X509) *
tls_load_certs(const char *path)
{
	STACK_OF(X509) *certs = NULL;
	BIO *bio = NULL;
	X509 *x;
	char *data = NULL;
	size_t len;
	unsigned long e;

	ERR_clear_error();
	if (util_read_file(path, TLS_CERT_FILE_MAX, &data, &len) == -1) {
		if (errno == EFBIG)
			log_errorx("certificate file '%s' is larger than %d bytes: give a PEM file",
			    path, TLS_CERT_FILE_MAX);
		else
			log_error("could not read certificate file '%s'", path);
		goto fail;
	}
	if ((bio = BIO_new_mem_buf(data, (int)len)) == NULL ||
	    (certs = sk_X509_new_null()) == NULL) {
		log_ssl_errors("tls_load_certs: out of memory");
		goto fail;
	}
	while ((x = PEM_read_bio_X509(bio, NULL, tls_no_password, NULL)) != NULL) {
		if (sk_X509_push(certs, x) == 0) {
			X509_free(x);
			log_ssl_errors("tls_load_certs: out of memory");
			goto fail;
		}
	}
	e = ERR_peek_last_error();
	if (sk_X509_num(certs) > 0 && ERR_GET_LIB(e) == ERR_LIB_PEM &&
	    ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
		/* The normal end of the file. */
		ERR_clear_error();
	} else if (sk_X509_num(certs) == 0 || e != 0) {
		log_ssl_errors("certificate file '%s' is not a PEM certificate chain "
		    "(\"-----BEGIN CERTIFICATE-----\" blocks)", path);
		goto fail;
	}
	BIO_free(bio);
	free(data);
	return certs;
fail:
	sk_X509_pop_free(certs, X509_free);
	BIO_free(bio);
	free(data);
	return NULL;
}

/* Reads an unencrypted PEM private key that only its owner may read. */
static EVP_PKEY *
tls_load_key(const char *path)
{
	EVP_PKEY *pkey = NULL;
	BIO *bio = NULL;
	struct stat st;
	char *data = NULL;
	size_t len = 0;

	ERR_clear_error();
	if (util_read_secret_file(path, TLS_KEY_FILE_MAX, &data, &len) == -1) {
		if (errno == EPERM && stat(path, &st) == 0)
			log_errorx("key file '%s' is readable by group or others (mode %04o): "
			    "run chmod 600 %s", path, (unsigned int)(st.st_mode & 07777), path);
		else if (errno == ELOOP)
			log_errorx("key file '%s' is a symbolic link: give the path of the file "
			    "it points to", path);
		else if (errno == EFBIG)
			log_errorx("key file '%s' is larger than %d bytes: give a PEM private key",
			    path, TLS_KEY_FILE_MAX);
		else
			log_error("could not read key file '%s'", path);
		goto out;
	}
	if ((bio = BIO_new_mem_buf(data, (int)len)) == NULL) {
		log_ssl_errors("tls_load_key: out of memory");
		goto out;
	}
	if ((pkey = PEM_read_bio_PrivateKey(bio, NULL, tls_no_password, NULL)) == NULL)
		log_ssl_errors("key file '%s' is not an unencrypted PEM private key "
		    "(encrypted keys are not supported)", path);
out:
	BIO_free(bio);
	if (data != NULL) {
		util_cleanse(data, len);
		free(data);
	}
	return pkey;
}

/* Loads a certificate chain and its private key into an SSL_CTX. */
static int
tls_use_keypair(SSL_CTX *sctx, const char *cert_file, const char *key_file)
{
	STACK_OF(X509) *certs = NULL;
	EVP_PKEY *pkey = NULL;
	int ret = -1;

	if ((certs = tls_load_certs(cert_file)) == NULL)
		goto out;
	if ((pkey = tls_load_key(key_file)) == NULL)
		goto out;
	ERR_clear_error();
	if (SSL_CTX_use_certificate(sctx, sk_X509_value(certs, 0)) != 1) {
		log_ssl_errors("certificate in '%s' cannot be used", cert_file);
		goto out;
	}
	for (int i = 1; i < sk_X509_num(certs); i++) {
		if (SSL_CTX_add1_chain_cert(sctx, sk_X509_value(certs, i)) != 1) {
			log_ssl_errors("certificate %d of the chain in '%s' cannot be used",
			    i + 1, cert_file);
			goto out;
		}
	}
	if (SSL_CTX_use_PrivateKey(sctx, pkey) != 1 || SSL_CTX_check_private_key(sctx) != 1) {
		log_ssl_errors("certificate '%s' does not match key '%s': give the key that was "
		    "generated with this certificate", cert_file, key_file);
		goto out;
	}
	ret = 0;
out:
	EVP_PKEY_free(pkey);
	sk_X509_pop_free(certs, X509_free);
	return ret;
}

/* Encodes a NULL-terminated protocol list in ALPN wire format (RFC 7301 section 3.1). */
static int
tls_alpn_wire(const char *const *alpn, unsigned char **wire, size_t *wirelen)
{
	size_t total = 0, off = 0;

	*wire = NULL;
	*wirelen = 0;
	if (alpn == NULL || alpn[0] == NULL)
		return 0;
	for (size_t i = 0; alpn[i] != NULL; i++) {
		size_t n = strlen(alpn[i]);

		if (n == 0 || n > TLS_ALPN_MAX) {
			log_errorx("ALPN protocol '%s' must be 1 to %d bytes long", alpn[i],
			    TLS_ALPN_MAX);
			return -1;
		}
		total += 1 + n;
		if (total > TLS_ALPN_WIRE_MAX) {
			log_errorx("ALPN protocol list is longer than %d bytes: offer fewer "
			    "protocols", TLS_ALPN_WIRE_MAX);
			return -1;
		}
	}
	*wire = xmalloc(total);
	for (size_t i = 0; alpn[i] != NULL; i++) {
		size_t n = strlen(alpn[i]);

		(*wire)[off++] = (unsigned char)n;
		memcpy(*wire + off, alpn[i], n);
		off += n;
	}
	*wirelen = total;
	return 0;
}

/* Picks the first protocol of the server's list that the client offers; none fails the
 * handshake with a no_application_protocol alert. */
static int
tls_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	struct tls_ctx *ctx = arg;

	(void)ssl;
	for (size_t i = 0; i < ctx->alpnlen; i += 1 + (size_t)ctx->alpn[i]) {
		const unsigned char *want = ctx->alpn + i + 1;
		unsigned char wantlen = ctx->alpn[i];

		for (unsigned int j = 0; j < inlen; j += 1 + (unsigned int)in[j]) {
			if (in[j] > inlen - j - 1)
				break;	/* malformed offer: stop at its end */
			if (in[j] == wantlen && memcmp(in + j + 1, want, wantlen) == 0) {
				*out = in + j + 1;
				*outlen = wantlen;
				return SSL_TLSEXT_ERR_OK;
			}
		}
	}
	log_debug("tls_alpn_select: the client offers no protocol this server speaks");
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/* Logs (at debug level) which certificate of a peer's chain failed verification and why. */
static int
tls_verify_log(int ok, X509_STORE_CTX *xctx)
{
	X509 *cert;
	char subject[256] = "?";

	if (ok)
		return ok;
	if ((cert = X509_STORE_CTX_get_current_cert(xctx)) != NULL)
		X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof(subject));
	log_debug("tls_verify_log: certificate at depth %d ('%s'): %s",
	    X509_STORE_CTX_get_error_depth(xctx), subject,
	    X509_verify_cert_error_string(X509_STORE_CTX_get_error(xctx)));
	return 0;
}

/* Whether x has the pinned SubjectPublicKeyInfo. */
static bool
tls_pin_matches(const struct tls_ctx *ctx, X509 *x)
{
	unsigned char md[TLS_SHA256_LEN];

	if (tls_spki_sha256(x, md) == -1)
		return false;
	return util_ct_equal(md, ctx->pin, sizeof(md));
}

/* Marks the verification as failed because no certificate has the pinned public key. */
static void
tls_pin_fail(X509_STORE_CTX *xctx, X509 *leaf)
{
	unsigned char md[TLS_SHA256_LEN];
	char pin[TLS_PIN_MAX];

	X509_STORE_CTX_set_error_depth(xctx, 0);
	X509_STORE_CTX_set_current_cert(xctx, leaf);
	X509_STORE_CTX_set_error(xctx, X509_V_ERR_APPLICATION_VERIFICATION);
	if (leaf != NULL && tls_spki_sha256(leaf, md) == 0 &&
	    tls_pin_format(md, pin, sizeof(pin)) == 0)
		log_debug("tls_pin_fail: no certificate of the peer's chain has the pinned "
		    "public key; its leaf has pin '%s'", pin);
}

/*
 * Verifies a server for a client with a pin. Without a CA file, the certificates of the chain
 * the server presents whose SubjectPublicKeyInfo has the pin become the only trust anchors,
 * with X509_V_FLAG_PARTIAL_CHAIN, so that a pinned CA, intermediate or leaf all work; the usual
 * checks (validity, usages, hostname) still apply. With a CA file, the chain must verify
 * against it and contain a certificate with the pin.
 */
static int
tls_pin_verify(X509_STORE_CTX *xctx, void *arg)
{
	struct tls_ctx *ctx = arg;
	STACK_OF(X509) *presented = X509_STORE_CTX_get0_untrusted(xctx);
	STACK_OF(X509) *anchors = NULL, *chain;
	X509 *leaf = X509_STORE_CTX_get0_cert(xctx);
	int ret = 0;

	if (ctx->has_ca) {
		if (X509_verify_cert(xctx) <= 0)
			goto out;
		chain = X509_STORE_CTX_get0_chain(xctx);
		for (int i = 0; i < sk_X509_num(chain) && ret == 0; i++)
			ret = tls_pin_matches(ctx, sk_X509_value(chain, i));
		if (ret == 0)
			tls_pin_fail(xctx, leaf);
		goto out;
	}
	if ((anchors = sk_X509_new_null()) == NULL) {
		X509_STORE_CTX_set_error(xctx, X509_V_ERR_OUT_OF_MEM);
		goto out;
	}
	/* The leaf, then the rest of what the server sent (which normally holds the leaf too). */
	for (int i = -1; i < sk_X509_num(presented); i++) {
		X509 *x = i < 0 ? leaf : sk_X509_value(presented, i);

		if (x == NULL || (i >= 0 && x == leaf) || !tls_pin_matches(ctx, x))
			continue;
		if (sk_X509_push(anchors, x) == 0) {
			X509_STORE_CTX_set_error(xctx, X509_V_ERR_OUT_OF_MEM);
			goto out;
		}
	}
	if (sk_X509_num(anchors) == 0) {
		tls_pin_fail(xctx, leaf);
		goto out;
	}
	X509_STORE_CTX_set0_trusted_stack(xctx, anchors);
	X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(xctx), X509_V_FLAG_PARTIAL_CHAIN);
	ret = X509_verify_cert(xctx) > 0;
	/* set0 lent the stack (the chain holds its own references): take it back before freeing. */
	X509_STORE_CTX_set0_trusted_stack(xctx, NULL);
out:
	sk_X509_free(anchors);
	return ret;
}

/*
 * A peer that closes without close_notify makes OpenSSL send an alert into a closed socket, and
 * OpenSSL writes with write(2), not send(MSG_NOSIGNAL): unless SIGPIPE is ignored (as
 * ev_signals_new does), any peer could kill the process. Leaves a handler someone set alone.
 */
static void
tls_ignore_sigpipe(void)
{
	struct sigaction sa;

	if (sigaction(SIGPIPE, NULL, &sa) == -1 || (sa.sa_flags & SA_SIGINFO) ||
	    sa.sa_handler != SIG_DFL)
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGPIPE, &sa, NULL) == -1)
		log_warn("tls_ignore_sigpipe: SIGPIPE cannot be ignored");
}

/* A context with the settings both sides share: versions, options, modes, ALPN. */
static struct tls_ctx *
tls_ctx_new(bool server, bool allow_tls12, const char *const *alpn)
{
	struct tls_ctx *ctx = NULL;
	SSL_CTX *sctx = NULL;

	ERR_clear_error();
	tls_ignore_sigpipe();
	if (!CRYPTO_THREAD_run_once(&tls_ex_once, tls_ex_init) || tls_ex_index < 0) {
		log_ssl_errors("tls_ctx_new: OpenSSL could not register our context data");
		goto fail;
	}
	if ((sctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method())) == NULL) {
		log_ssl_errors("tls_ctx_new: OpenSSL could not create a context");
		goto fail;
	}
	ctx = xcalloc(1, sizeof(*ctx));
	ctx->ssl_ctx = sctx;
	ctx->server = server;
	if (SSL_CTX_set_ex_data(sctx, tls_ex_index, ctx) != 1) {
		log_ssl_errors("tls_ctx_new: OpenSSL could not attach our context data");
		free(ctx);
		ctx = NULL;
		goto fail;
	}
	/* From here on, SSL_CTX_free(sctx) frees ctx too. */
	if (SSL_CTX_set_min_proto_version(sctx, allow_tls12 ? TLS1_2_VERSION : TLS1_3_VERSION)
	    != 1 || SSL_CTX_set_max_proto_version(sctx, TLS1_3_VERSION) != 1) {
		log_ssl_errors("tls_ctx_new: OpenSSL refuses the protocol versions");
		goto fail;
	}
	if (allow_tls12 && SSL_CTX_set_cipher_list(sctx, TLS_CIPHERS_TLS12) != 1) {
		log_ssl_errors("tls_ctx_new: OpenSSL refuses the TLS 1.2 ciphers '%s'",
		    TLS_CIPHERS_TLS12);
		goto fail;
	}
	SSL_CTX_set_options(sctx, SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_mode(sctx, SSL_MODE_RELEASE_BUFFERS);
	if (tls_alpn_wire(alpn, &ctx->alpn, &ctx->alpnlen) == -1)
		goto fail;
	if (ctx->alpn != NULL) {
		if (server)
			SSL_CTX_set_alpn_select_cb(sctx, tls_alpn_select, ctx);
		else if (SSL_CTX_set_alpn_protos(sctx, ctx->alpn, (unsigned int)ctx->alpnlen)
		    != 0) {
			/* SSL_CTX_set_alpn_protos returns 0 on success. */
			log_ssl_errors("tls_ctx_new: OpenSSL refuses the ALPN list");
			goto fail;
		}
	}
	return ctx;
fail:
	SSL_CTX_free(sctx);
	ERR_clear_error();
	return NULL;
}

/* A server context: certificate chain, key, versions, ALPN selection. */
struct tls_ctx *
tls_server_new(const struct tls_server_opts *opts)
{
	struct tls_ctx *ctx;

	if (opts->cert_file == NULL || opts->key_file == NULL) {
		log_errorx("tls_server_new: a TLS server needs a certificate file and a key file");
		return NULL;
	}
	if ((ctx = tls_ctx_new(true, opts->allow_tls12, opts->alpn)) == NULL)
		return NULL;
	if (tls_use_keypair(ctx->ssl_ctx, opts->cert_file, opts->key_file) == -1) {
		tls_ctx_free(ctx);
		return NULL;
	}
	return ctx;
}

/* Adds every certificate of a PEM file to the context's trust store. */
static int
tls_trust_file(SSL_CTX *sctx, const char *path)
{
	STACK_OF(X509) *cas;
	X509_STORE *store = SSL_CTX_get_cert_store(sctx);
	int ret = -1;

	if ((cas = tls_load_certs(path)) == NULL)
		return -1;
	for (int i = 0; i < sk_X509_num(cas); i++) {
		if (X509_STORE_add_cert(store, sk_X509_value(cas, i)) != 1) {
			log_ssl_errors("certificate %d of CA file '%s' cannot be trusted", i + 1,
			    path);
			goto out;
		}
	}
	ret = 0;
out:
	sk_X509_pop_free(cas, X509_free);
	return ret;
}

/* A client context: trust (CA file, pin, both, or the system store), optional certificate. */
struct tls_ctx *
tls_client_new(const struct tls_client_opts *opts)
{
	struct tls_ctx *ctx;
	SSL_CTX *sctx;

	if ((opts->cert_file == NULL) != (opts->key_file == NULL)) {
		log_errorx("a client certificate needs both a certificate file and a key file "
		    "(got %s only)", opts->cert_file != NULL ? "the certificate" : "the key");
		return NULL;
	}
	if ((ctx = tls_ctx_new(false, opts->allow_tls12, opts->alpn)) == NULL)
		return NULL;
	sctx = ctx->ssl_ctx;
	if (opts->pin != NULL) {
		if (tls_pin_parse(opts->pin, ctx->pin) == -1)
			goto fail;
		ctx->has_pin = true;
	}
	if (opts->ca_file != NULL) {
		if (tls_trust_file(sctx, opts->ca_file) == -1)
			goto fail;
		ctx->has_ca = true;
	} else if (!ctx->has_pin && SSL_CTX_set_default_verify_paths(sctx) != 1) {
		log_ssl_errors("the system's trusted certificates cannot be loaded: give a CA "
		    "file or a pin");
		goto fail;
	}
	SSL_CTX_set_verify(sctx, SSL_VERIFY_PEER, tls_verify_log);
	if (ctx->has_pin)
		SSL_CTX_set_cert_verify_callback(sctx, tls_pin_verify, ctx);
	if (opts->cert_file != NULL &&
	    tls_use_keypair(sctx, opts->cert_file, opts->key_file) == -1)
		goto fail;
	return ctx;
fail:
	tls_ctx_free(ctx);
	return NULL;
}

/* Drops the caller's reference to the context. */
void
tls_ctx_free(struct tls_ctx *ctx)
{
	if (ctx == NULL)
		return;
	SSL_CTX_free(ctx->ssl_ctx);	/* frees ctx once no connection uses it */
	ERR_clear_error();
}

/* Whether s is a literal IPv4 or IPv6 address. */
static bool
tls_is_ip(const char *s)
{
	struct in6_addr a6;
	struct in_addr a4;

	return inet_pton(AF_INET, s, &a4) == 1 || inet_pton(AF_INET6, s, &a6) == 1;
}

/* Sets the name a client checks the server's certificate against, and SNI for DNS names. */
static int
tls_set_peer_name(SSL *ssl, const char *name)
{
	if (tls_is_ip(name)) {
		/* RFC 6066 section 3: literal addresses are not sent as SNI. */
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) != 1) {
			log_ssl_errors("address '%s' cannot be checked against certificates",
			    name);
			return -1;
		}
		return 0;
	}
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (SSL_set1_host(ssl, name) != 1 || SSL_set_tlsext_host_name(ssl, name) != 1) {
		log_ssl_errors("server name '%s' cannot be used: give a DNS name of at most 255 "
		    "bytes or an IP address", name);
		return -1;
	}
	return 0;
}

/* A bufferevent doing a TLS handshake on fd as a server or as a client of hostname. */
struct bufferevent *
tls_bufferevent_new(struct event_base *base, struct tls_ctx *ctx, int fd, bool server,
    const char *hostname)
{
	struct bufferevent *bev = NULL;
	SSL *ssl = NULL;

	ERR_clear_error();
	if (server != ctx->server) {
		log_errorx("tls_bufferevent_new: a %s context cannot make a %s connection",
		    ctx->server ? "server" : "client", server ? "server" : "client");
		goto fail;
	}
	if (!server && (hostname == NULL || *hostname == '\0')) {
		log_errorx("tls_bufferevent_new: a TLS client needs the server's name or address "
		    "to check its certificate");
		goto fail;
	}
	if (evutil_make_socket_nonblocking(fd) == -1) {
		log_error("tls_bufferevent_new: fd %d cannot be made non-blocking", fd);
		goto fail;
	}
	if ((ssl = SSL_new(ctx->ssl_ctx)) == NULL) {
		log_ssl_errors("tls_bufferevent_new: OpenSSL could not create a connection");
		goto fail;
	}
	if (!server && tls_set_peer_name(ssl, hostname) == -1)
		goto fail;
	bev = bufferevent_openssl_socket_new(base, fd, ssl,
	    server ? BUFFEREVENT_SSL_ACCEPTING : BUFFEREVENT_SSL_CONNECTING,
	    BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		/* With BEV_OPT_CLOSE_ON_FREE, libevent 2.1 frees the SSL when it fails. */
		ssl = NULL;
		log_ssl_errors("tls_bufferevent_new: libevent could not create a TLS bufferevent");
		goto fail;
	}
	/* Whole records at a time, not libevent's default of 4 KiB per read or write. */
	bufferevent_set_max_single_read(bev, 64 * 1024);
	bufferevent_set_max_single_write(bev, 64 * 1024);
	return bev;
fail:
	SSL_free(ssl);
	if (fd >= 0)
		close(fd);
	ERR_clear_error();
	return NULL;
}

void
tls_bufferevent_read_ahead(struct bufferevent *bev)
{
	SSL *ssl;

	if (bev == NULL || (ssl = bufferevent_openssl_get_ssl(bev)) == NULL)
		return;
	/* Up to four full records (16 KiB of plaintext each, plus header and tag) per read(). */
	SSL_set_default_read_buffer_len(ssl, 4 * (SSL3_RT_MAX_PLAIN_LENGTH +
	    SSL3_RT_MAX_ENCRYPTED_OVERHEAD + SSL3_RT_HEADER_LENGTH));
	SSL_set_read_ahead(ssl, 1);
}

bool
tls_bufferevent_pending(struct bufferevent *bev)
{
	SSL *ssl;

	return bev != NULL && (ssl = bufferevent_openssl_get_ssl(bev)) != NULL &&
	    SSL_has_pending(ssl) == 1;
}

/*
 * Gathered writes. OpenSSL hands its BIO one record at a time (16 KiB of plaintext at most),
 * so a write callback that seals four records made four write()s, four TCP segments and, on
 * the receiving side, up to four wake-ups. The gather BIO takes the records of one turn of the
 * event loop into a buffer and writes them with one write() at the end of the turn (an event
 * made active when the first record arrives runs after the callbacks already queued), or at
 * once when GATHER_FLUSH bytes are waiting. It stands in for the socket BIO as the SSL's
 * write BIO only: reads still go to the socket BIO. Closing is the owner's business:
 * tls_bufferevent_flush before bufferevent_free (the BIO is freed after libevent has closed the
 * descriptor, so it never writes on its own then).
 */
#define GATHER_FLUSH	(64 * 1024)
#define GATHER_MAX	(GATHER_FLUSH + SSL3_RT_MAX_PLAIN_LENGTH + \
			    SSL3_RT_MAX_ENCRYPTED_OVERHEAD + SSL3_RT_HEADER_LENGTH)

struct tls_gather {
	int			 fd;
	struct event		*ev;	/* EV_WRITE on fd: the end of the turn, or writable again */
	struct bufferevent	*bev;	/* told when a flush fails, or drains after tls_bufferevent_unsent */
	uint8_t			*buf;	/* GATHER_MAX bytes while anything is unsent, else NULL */
	size_t			 off;	/* buf[off..len) is unsent */
	size_t			 len;
	int			 err;	/* a write failed: its errno; every later write fails */
	bool			 notify;	/* run bev's write callback once drained */
};

static BIO_METHOD *tls_gather_method;
static int tls_gather_type;
static CRYPTO_ONCE tls_gather_once = CRYPTO_ONCE_STATIC_INIT;

/* Writes what is unsent: 1 when all of it went, 0 when the socket is full, -1 on an error. */
static int
gather_send(struct tls_gather *g)
{
	ssize_t n;

	while (g->err == 0 && g->off < g->len) {
		n = write(g->fd, g->buf + g->off, g->len - g->off);
		if (n > 0)
			g->off += (size_t)n;
		else if (n == -1 && errno == EINTR)
			continue;
		else if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		else
			g->err = n == 0 ? EPIPE : errno;
	}
	if (g->err != 0)
		return -1;
	free(g->buf);		/* idle connections hold no buffer */
	g->buf = NULL;
	g->off = g->len = 0;
	return 1;
}

static void
gather_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tls_gather *g = arg;
	struct bufferevent *bev = g->bev;
	int r = gather_send(g);

	(void)fd;
	(void)what;
	if (r == 0)
		event_add(g->ev, NULL);		/* the rest when the socket is writable */
	else if (r == -1 && bev != NULL) {
		g->bev = NULL;			/* reported once */
		EVUTIL_SET_SOCKET_ERROR(g->err);
		bufferevent_trigger_event(bev, BEV_EVENT_WRITING | BEV_EVENT_ERROR, 0);
	} else if (r == 1 && g->notify && bev != NULL) {
		g->notify = false;
		bufferevent_trigger(bev, EV_WRITE, BEV_TRIG_IGNORE_WATERMARKS);
	}
}

static int
gather_write(BIO *b, const char *data, int dlen)
{
	struct tls_gather *g = BIO_get_data(b);
	size_t n = dlen > 0 ? (size_t)dlen : 0;

	BIO_clear_retry_flags(b);
	if (g->err != 0) {
		errno = g->err;
		return -1;
	}
	if (n == 0)
		return 0;
	if (n > GATHER_MAX)
		n = GATHER_MAX;
	if (g->len - g->off + n > GATHER_MAX) {
		if (gather_send(g) == -1) {
			errno = g->err;
			return -1;
		}
		if (g->len - g->off + n > GATHER_MAX) {
			BIO_set_retry_write(b);
			if (!event_pending(g->ev, EV_WRITE, NULL))
				event_add(g->ev, NULL);
			return -1;
		}
	}
	if (g->buf == NULL && (g->buf = malloc(GATHER_MAX)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	if (g->len + n > GATHER_MAX) {		/* room at the front: move the rest there */
		memmove(g->buf, g->buf + g->off, g->len - g->off);
		g->len -= g->off;
		g->off = 0;
	}
	memcpy(g->buf + g->len, data, n);
	g->len += n;
	if (g->len - g->off >= GATHER_FLUSH) {
		if (gather_send(g) == 0 && !event_pending(g->ev, EV_WRITE, NULL))
			event_add(g->ev, NULL);
		/* An error is the next write's (and the end of the turn's) to report. */
	} else if (!event_pending(g->ev, EV_WRITE, NULL))
		event_active(g->ev, EV_WRITE, 1);	/* again is a no-op */
	return (int)n;
}

static long
gather_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct tls_gather *g = BIO_get_data(b);
	int r;

	(void)num;
	switch (cmd) {
	case BIO_CTRL_FLUSH:		/* handshake flights and alerts: now */
		BIO_clear_retry_flags(b);
		if ((r = gather_send(g)) == 1)
			return 1;
		if (r == 0) {
			BIO_set_retry_write(b);
			if (!event_pending(g->ev, EV_WRITE, NULL))
				event_add(g->ev, NULL);
		}
		return 0;
	case BIO_CTRL_WPENDING:
		return (long)(g->len - g->off);
	case BIO_C_GET_FD:		/* libevent closes the descriptor it learns here */
		if (ptr != NULL)
			*(int *)ptr = g->fd;
		return g->fd;
	case BIO_CTRL_GET_CLOSE:
		return BIO_NOCLOSE;
	case BIO_CTRL_SET_CLOSE:
		return 1;
	default:
		return 0;
	}
}

static int
gather_destroy(BIO *b)
{
	struct tls_gather *g = BIO_get_data(b);

	if (g != NULL) {
		event_free(g->ev);
		free(g->buf);
		free(g);
		BIO_set_data(b, NULL);
	}
	return 1;
}

static void
gather_method_init(void)
{
	BIO_METHOD *m;
	int type = BIO_get_new_index();

	if (type == -1 || (m = BIO_meth_new(type | BIO_TYPE_SOURCE_SINK, "zt gather")) == NULL)
		return;
	if (!BIO_meth_set_write(m, gather_write) || !BIO_meth_set_ctrl(m, gather_ctrl) ||
	    !BIO_meth_set_destroy(m, gather_destroy)) {
		BIO_meth_free(m);
		return;
	}
	tls_gather_type = type | BIO_TYPE_SOURCE_SINK;
	tls_gather_method = m;
}

static struct tls_gather *
gather_of(struct bufferevent *bev)
{
	SSL *ssl;
	BIO *b;

	if (bev == NULL || (ssl = bufferevent_openssl_get_ssl(bev)) == NULL ||
	    (b = SSL_get_wbio(ssl)) == NULL || tls_gather_method == NULL ||
	    BIO_method_type(b) != tls_gather_type)
		return NULL;
	return BIO_get_data(b);
}

bool
tls_bufferevent_gather(struct bufferevent *bev)
{
	struct tls_gather *g;
	SSL *ssl;
	BIO *b;
	int fd;

	if (bev == NULL || (ssl = bufferevent_openssl_get_ssl(bev)) == NULL)
		return false;
	if (gather_of(bev) != NULL)
		return true;
	if (!CRYPTO_THREAD_run_once(&tls_gather_once, gather_method_init) ||
	    tls_gather_method == NULL || (fd = SSL_get_wfd(ssl)) < 0 ||
	    BIO_wpending(SSL_get_wbio(ssl)) > 0)
		return false;
	g = xcalloc(1, sizeof(*g));
	g->fd = fd;
	g->bev = bev;
	if ((g->ev = event_new(bufferevent_get_base(bev), fd, EV_WRITE, gather_cb, g)) == NULL ||
	    (b = BIO_new(tls_gather_method)) == NULL) {
		event_free(g->ev);
		free(g);
		ERR_clear_error();
		return false;
	}
	BIO_set_data(b, g);
	BIO_set_init(b, 1);
	SSL_set0_wbio(ssl, b);	/* the socket BIO stays the read BIO */
	return true;
}

size_t
tls_bufferevent_read_buffered(struct bufferevent *bev, size_t max)
{
	struct evbuffer_iovec v;
	struct evbuffer *in;
	ev_ssize_t each;
	size_t got = 0;
	SSL *ssl;
	int n;

	if (bev == NULL || (ssl = bufferevent_openssl_get_ssl(bev)) == NULL ||
	    !SSL_is_init_finished(ssl))
		return 0;
	in = bufferevent_get_input(bev);
	/* Reservations of the size libevent's own reads use (the owner may size them to its
	 * records: see MUX_RECORD). */
	if ((each = bufferevent_get_max_single_read(bev)) <= 0 || each > SSL3_RT_MAX_PLAIN_LENGTH)
		each = SSL3_RT_MAX_PLAIN_LENGTH;
	while (got < max && SSL_has_pending(ssl) == 1) {
		if (evbuffer_reserve_space(in, each, &v, 1) < 1)
			break;
		ERR_clear_error();
		n = SSL_read(ssl, v.iov_base, (int)(v.iov_len > (size_t)each ? (size_t)each :
		    v.iov_len));
		if (n <= 0) {
			ERR_clear_error();
			break;		/* the reservation lapses */
		}
		v.iov_len = (size_t)n;
		if (evbuffer_commit_space(in, &v, 1) == -1)
			break;
		got += (size_t)n;
	}
	return got;
}

size_t
tls_bufferevent_unsent(struct bufferevent *bev)
{
	struct tls_gather *g = gather_of(bev);

	if (g == NULL || g->len == g->off)
		return 0;
	g->notify = true;
	return g->len - g->off;
}

void
tls_bufferevent_flush(struct bufferevent *bev)
{
	struct tls_gather *g = gather_of(bev);

	if (g == NULL)
		return;
	(void)gather_send(g);
	event_del(g->ev);
	g->bev = NULL;
}

/* Copies s (or "" when NULL) into buf; false, with buf "", if it does not fit. */
static bool
tls_copy_out(char *buf, size_t len, const char *s, size_t slen)
{
	if (len == 0)
		return false;
	if (slen >= len) {
		buf[0] = '\0';
		return false;
	}
	if (slen > 0)
		memcpy(buf, s, slen);
	buf[slen] = '\0';
	return true;
}

/* The negotiated ALPN protocol of a connection. */
bool
tls_bufferevent_alpn(struct bufferevent *bev, char *buf, size_t len)
{
	const unsigned char *data = NULL;
	unsigned int dlen = 0;
	SSL *ssl;

	if (bev == NULL || (ssl = bufferevent_openssl_get_ssl(bev)) == NULL) {
		tls_copy_out(buf, len, "", 0);
		return false;
	}
	SSL_get0_alpn_selected(ssl, &data, &dlen);
	return tls_copy_out(buf, len, (const char *)data, data != NULL ? dlen : 0);
}

/* The SNI name of a connection (sent by the client). */
bool
tls_bufferevent_sni(struct bufferevent *bev, char *buf, size_t len)
{
	const char *name;
	SSL *ssl;

	if (bev == NULL || (ssl = bufferevent_openssl_get_ssl(bev)) == NULL) {
		tls_copy_out(buf, len, "", 0);
		return false;
	}
	name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	return tls_copy_out(buf, len, name, name != NULL ? strlen(name) : 0);
}

/* An ASN.1 time as seconds since the epoch. */
static bool
tls_asn1_time(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return false;
	*out = (int64_t)timegm(&tm);
	return true;
}

/* The validity period shared by the certificates of the peer's chain. */
bool
tls_bufferevent_peer_validity(struct bufferevent *bev, int64_t *not_before, int64_t *not_after)
{
	STACK_OF(X509) *chain;
	SSL *ssl;
	int64_t nb, na;

	if (bev == NULL || (ssl = bufferevent_openssl_get_ssl(bev)) == NULL)
		return false;
	if ((chain = SSL_get0_verified_chain(ssl)) == NULL &&
	    (chain = SSL_get_peer_cert_chain(ssl)) == NULL)
		return false;
	if (sk_X509_num(chain) == 0)
		return false;
	*not_before = INT64_MIN;
	*not_after = INT64_MAX;
	for (int i = 0; i < sk_X509_num(chain); i++) {
		X509 *x = sk_X509_value(chain, i);

		if (!tls_asn1_time(X509_get0_notBefore(x), &nb) ||
		    !tls_asn1_time(X509_get0_notAfter(x), &na))
			return false;
		if (nb > *not_before)
			*not_before = nb;
		if (na < *not_after)
			*not_after = na;
	}
	return true;
}

/* The negotiated protocol version of a connection. */
const char *
tls_bufferevent_version(struct bufferevent *bev)
{
	SSL *ssl;

	if (bev == NULL || (ssl = bufferevent_openssl_get_ssl(bev)) == NULL)
		return "";
	return SSL_get_version(ssl);
}

/* Sends close_notify if the handshake is done; errors (a full socket buffer) are ignored. */
void
tls_bufferevent_shutdown(struct bufferevent *bev)
{
	SSL *ssl;

	if (bev == NULL || (ssl = bufferevent_openssl_get_ssl(bev)) == NULL ||
	    !SSL_is_init_finished(ssl))
		return;
	ERR_clear_error();
	(void)SSL_shutdown(ssl);
	ERR_clear_error();
}

/* Describes (and logs) why a TLS bufferevent failed. */
void
tls_bufferevent_error(struct bufferevent *bev, char *buf, size_t len)
{
	char reason[512] = "", ebuf[256];
	unsigned long e, root = 0;
	const char *s;
	SSL *ssl = NULL;
	long vr = X509_V_OK;
	int saved = errno;

	/* libevent moved OpenSSL's queue into the bufferevent; it gives the newest first. */
	while (bev != NULL && (e = bufferevent_get_openssl_error(bev)) != 0) {
		if (ERR_GET_LIB(e) == 0)
			continue;	/* an SSL_ERROR_* code, not a queue entry */
		ERR_error_string_n(e, ebuf, sizeof(ebuf));
		log_errorx("openssl: %s", ebuf);
		root = e;
	}
	if (bev != NULL && (ssl = bufferevent_openssl_get_ssl(bev)) != NULL)
		vr = SSL_get_verify_result(ssl);
	if (vr == X509_V_ERR_APPLICATION_VERIFICATION)
		(void)util_snprintf(reason, sizeof(reason), "certificate verify failed: no "
		    "certificate of the peer's chain has the pinned public key");
	else if (vr != X509_V_OK)
		(void)util_snprintf(reason, sizeof(reason), "certificate verify failed: %s",
		    X509_verify_cert_error_string(vr));
	else if (root != 0 && (s = ERR_reason_error_string(root)) != NULL)
		(void)util_strlcpy(reason, s, sizeof(reason));
	else if (root != 0) {
		ERR_error_string_n(root, ebuf, sizeof(ebuf));
		(void)util_strlcpy(reason, ebuf, sizeof(reason));
	}
	else if (saved != 0)
		(void)util_snprintf(reason, sizeof(reason), "connection failed: %s",
		    strerror(saved));
	else
		(void)util_strlcpy(reason, "connection closed during TLS", sizeof(reason));
	log_ssl_errors("tls: %s", reason);
	if (len > 0)
		(void)util_strlcpy(buf, reason, len);
}

/* The pin of the first certificate of a PEM file. */
int
tls_spki_pin_file(const char *cert_file, char *pin, size_t len)
{
	STACK_OF(X509) *certs;
	unsigned char md[TLS_SHA256_LEN];
	int ret = -1;

	if (len < TLS_PIN_MAX) {
		log_errorx("tls_spki_pin_file: a pin needs a buffer of %d bytes, not %zu",
		    TLS_PIN_MAX, len);
		return -1;
	}
	if ((certs = tls_load_certs(cert_file)) == NULL)
		return -1;
	if (tls_spki_sha256(sk_X509_value(certs, 0), md) == -1 ||
	    tls_pin_format(md, pin, len) == -1) {
		log_ssl_errors("the public key of certificate '%s' cannot be hashed", cert_file);
		goto out;
	}
	ret = 0;
out:
	sk_X509_pop_free(certs, X509_free);
	return ret;
}

/* Whether name is a DNS name we put in a certificate: LDH labels (and '_'), '*' first. */
static bool
tls_dns_name_ok(const char *name)
{
	size_t len = strlen(name), label = 0;

	if (len == 0 || len > 253)
		return false;
	if (strncmp(name, "*.", 2) == 0)
		name += 2;
	for (const char *p = name;; p++) {
		if (*p == '.' || *p == '\0') {
			if (label == 0 || label > 63 || p[-1] == '-')
				return false;
			if (*p == '\0')
				return true;
			label = 0;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' || (*p == '-' && label > 0)))
			return false;
		label++;
	}
}

/* Adds an extension given in openssl.cnf syntax ("critical,CA:TRUE"). */
static int
tls_add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509_EXTENSION *ext;
	X509V3_CTX v3;
	int ok;

	X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_nconf_nid(NULL, &v3, nid, value)) == NULL) {
		log_ssl_errors("tls_add_ext: extension %s '%s' cannot be made", OBJ_nid2sn(nid),
		    value);
		return -1;
	}
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	if (!ok) {
		log_ssl_errors("tls_add_ext: extension %s cannot be added", OBJ_nid2sn(nid));
		return -1;
	}
	return 0;
}

/* A subjectAltName entry: an IP address for a literal address, else a DNS name. */
static GENERAL_NAME *
tls_general_name(const char *name)
{
	GENERAL_NAME *gen = NULL;
	ASN1_OCTET_STRING *ip = NULL;
	ASN1_IA5STRING *dns = NULL;

	if (tls_is_ip(name)) {
		if ((ip = a2i_IPADDRESS(name)) == NULL)
			goto fail;
	} else if (tls_dns_name_ok(name)) {
		if ((dns = ASN1_IA5STRING_new()) == NULL || ASN1_STRING_set(dns, name, -1) != 1)
			goto fail;
	} else {
		log_errorx("certificate name '%s' is neither an IP address nor a DNS name "
		    "(letters, digits, '-', '_' and dots, optionally starting with '*.')", name);
		return NULL;
	}
	if ((gen = GENERAL_NAME_new()) == NULL)
		goto fail;
	if (ip != NULL)
		GENERAL_NAME_set0_value(gen, GEN_IPADD, ip);
	else
		GENERAL_NAME_set0_value(gen, GEN_DNS, dns);
	return gen;
fail:
	log_ssl_errors("tls_general_name: name '%s' cannot be encoded", name);
	ASN1_OCTET_STRING_free(ip);
	ASN1_IA5STRING_free(dns);
	return NULL;
}

/* Adds subjectAltName with DNS names and IP addresses (critical when the subject is empty,
 * RFC 5280 section 4.2.1.6). */
static int
tls_add_san(X509 *x, const char *const *names, size_t nnames, bool critical)
{
	GENERAL_NAMES *gens;
	GENERAL_NAME *gen;
	int ret = -1;

	if ((gens = sk_GENERAL_NAME_new_null()) == NULL) {
		log_ssl_errors("tls_add_san: out of memory");
		goto out;
	}
	for (size_t i = 0; i < nnames; i++) {
		if ((gen = tls_general_name(names[i])) == NULL)
			goto out;
		if (sk_GENERAL_NAME_push(gens, gen) == 0) {
			GENERAL_NAME_free(gen);
			log_ssl_errors("tls_add_san: out of memory");
			goto out;
		}
	}
	if (X509_add1_ext_i2d(x, NID_subject_alt_name, gens, critical ? 1 : 0,
	    X509V3_ADD_DEFAULT) != 1) {
		log_ssl_errors("tls_add_san: subjectAltName cannot be added");
		goto out;
	}
	ret = 0;
out:
	GENERAL_NAMES_free(gens);
	return ret;
}

/* A version 3 certificate for pkey: random 128-bit serial, valid from an hour ago (clock skew)
 * for days, subject CN=cn (empty subject when cn is NULL); issuer and extensions to be set. */
static X509 *
tls_cert_new(EVP_PKEY *pkey, const char *cn, int days)
{
	unsigned char rnd[TLS_SERIAL_LEN];
	BIGNUM *serial = NULL;
	X509 *x;

	if ((x = X509_new()) == NULL)
		goto fail;
	if (util_random_bytes(rnd, sizeof(rnd)) == -1)
		goto fail;
	/* RFC 5280 section 4.1.2.2: positive (BIGNUM from bytes is) and non-zero. */
	if ((serial = BN_bin2bn(rnd, sizeof(rnd), NULL)) == NULL ||
	    (BN_is_zero(serial) && !BN_one(serial)) ||
	    BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) == NULL)
		goto fail;
	if (X509_set_version(x, X509_VERSION_3) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL) == NULL ||
	    X509_set_pubkey(x, pkey) != 1)
		goto fail;
	if (cn != NULL && X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
	    MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) != 1)
		goto fail;
	BN_free(serial);
	return x;
fail:
	log_ssl_errors("tls_cert_new: a certificate cannot be made");
	BN_free(serial);
	X509_free(x);
	return NULL;
}

/* Writes a private key as unencrypted PKCS#8 PEM, mode 0600, through wiped memory. */
static int
tls_write_key(const char *path, EVP_PKEY *pkey)
{
	BIO *bio;
	char *data;
	long len;
	int ret = -1;

	if ((bio = BIO_new(BIO_s_secmem())) == NULL ||
	    PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) != 1 ||
	    (len = BIO_get_mem_data(bio, &data)) <= 0) {
		log_ssl_errors("tls_write_key: the key for '%s' cannot be encoded", path);
		goto out;
	}
	if (util_write_file_atomic(path, data, (size_t)len, 0600) == -1) {
		log_error("could not write key file '%s'", path);
		goto out;
	}
	ret = 0;
out:
	BIO_free(bio);
	return ret;
}

/* Writes x followed by the certificates of chain (may be NULL) as PEM, mode 0644. */
static int
tls_write_certs(const char *path, X509 *x, STACK_OF(X509) *chain)
{
	BIO *bio;
	char *data = NULL;
	long len = 0;
	bool ok;
	int ret = -1;

	ok = (bio = BIO_new(BIO_s_mem())) != NULL && PEM_write_bio_X509(bio, x) == 1;
	for (int i = 0; ok && i < sk_X509_num(chain); i++)
		ok = PEM_write_bio_X509(bio, sk_X509_value(chain, i)) == 1;
	if (!ok || (len = BIO_get_mem_data(bio, &data)) <= 0) {
		log_ssl_errors("tls_write_certs: the certificates for '%s' cannot be encoded",
		    path);
		goto out;
	}
	if (util_write_file_atomic(path, data, (size_t)len, 0644) == -1) {
		log_error("could not write certificate file '%s'", path);
		goto out;
	}
	ret = 0;
out:
	BIO_free(bio);
	return ret;
}

/* Checks a validity period in days. */
static int
tls_days_ok(int days)
{
	if (days < 1 || days > TLS_DAYS_MAX) {
		log_errorx("validity of %d days is out of range: give 1 to %d days", days,
		    TLS_DAYS_MAX);
		return -1;
	}
	return 0;
}

/* A self-signed ECDSA P-256 CA for issuing leaves: CA:TRUE with pathlen 0. */
int
tls_ca_generate(const char *cert_file, const char *key_file, const char *cn, int days)
{
	EVP_PKEY *pkey = NULL;
	X509 *x = NULL;
	int ret = -1;

	if (tls_days_ok(days) == -1)
		return -1;
	if (cn == NULL || *cn == '\0' || strlen(cn) > TLS_CN_MAX) {
		log_errorx("CA name '%s' must be 1 to %d bytes long", cn != NULL ? cn : "",
		    TLS_CN_MAX);
		return -1;
	}
	ERR_clear_error();
	if ((pkey = EVP_EC_gen("P-256")) == NULL) {
		log_ssl_errors("tls_ca_generate: a P-256 key cannot be generated");
		goto out;
	}
	if ((x = tls_cert_new(pkey, cn, days)) == NULL)
		goto out;
	if (X509_set_issuer_name(x, X509_get_subject_name(x)) != 1) {
		log_ssl_errors("tls_ca_generate: the issuer cannot be set");
		goto out;
	}
	if (tls_add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") == -1 ||
	    tls_add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") == -1 ||
	    tls_add_ext(x, x, NID_subject_key_identifier, "hash") == -1)
		goto out;
	if (X509_sign(x, pkey, EVP_sha256()) == 0) {
		log_ssl_errors("tls_ca_generate: the certificate cannot be signed");
		goto out;
	}
	if (tls_write_key(key_file, pkey) == -1 || tls_write_certs(cert_file, x, NULL) == -1)
		goto out;
	ret = 0;
out:
	X509_free(x);
	EVP_PKEY_free(pkey);
	ERR_clear_error();
	return ret;
}

/* A leaf for names signed by the CA in ca_cert_file (its first certificate) and ca_key_file. */
int
tls_leaf_generate(const char *ca_cert_file, const char *ca_key_file,
    const char *const *names, size_t nnames, bool server, int days,
    const char *cert_file, const char *key_file)
{
	STACK_OF(X509) *cas = NULL;
	EVP_PKEY *cakey = NULL, *pkey = NULL;
	X509 *ca, *x = NULL;
	const char *cn;
	int ret = -1;

	if (tls_days_ok(days) == -1)
		return -1;
	if (nnames == 0) {
		log_errorx("a certificate needs at least one DNS name or IP address");
		return -1;
	}
	if ((cas = tls_load_certs(ca_cert_file)) == NULL)
		goto out;
	ca = sk_X509_value(cas, 0);
	if ((cakey = tls_load_key(ca_key_file)) == NULL)
		goto out;
	ERR_clear_error();
	if (X509_check_private_key(ca, cakey) != 1) {
		log_ssl_errors("CA certificate '%s' does not match key '%s': give the key that "
		    "was generated with this certificate", ca_cert_file, ca_key_file);
		goto out;
	}
	if (X509_check_ca(ca) == 0) {
		log_errorx("certificate '%s' is not a CA certificate (basicConstraints CA:TRUE): "
		    "give the certificate of the CA that is to sign", ca_cert_file);
		goto out;
	}
	if ((pkey = EVP_EC_gen("P-256")) == NULL) {
		log_ssl_errors("tls_leaf_generate: a P-256 key cannot be generated");
		goto out;
	}
	/* The first name as CN for people reading the certificate; SAN is what is checked. */
	cn = strlen(names[0]) <= TLS_CN_MAX ? names[0] : NULL;
	if ((x = tls_cert_new(pkey, cn, days)) == NULL)
		goto out;
	if (X509_set_issuer_name(x, X509_get_subject_name(ca)) != 1) {
		log_ssl_errors("tls_leaf_generate: the issuer cannot be set");
		goto out;
	}
	if (tls_add_ext(x, ca, NID_basic_constraints, "CA:FALSE") == -1 ||
	    tls_add_ext(x, ca, NID_key_usage, "critical,digitalSignature") == -1 ||
	    tls_add_ext(x, ca, NID_ext_key_usage, server ? "serverAuth" : "clientAuth") == -1 ||
	    tls_add_ext(x, ca, NID_subject_key_identifier, "hash") == -1 ||
	    tls_add_ext(x, ca, NID_authority_key_identifier, "keyid:always") == -1 ||
	    tls_add_san(x, names, nnames, cn == NULL) == -1)
		goto out;
	if (X509_sign(x, cakey, EVP_sha256()) == 0) {
		log_ssl_errors("tls_leaf_generate: the certificate cannot be signed");
		goto out;
	}
	if (tls_write_key(key_file, pkey) == -1 || tls_write_certs(cert_file, x, cas) == -1)
		goto out;
	ret = 0;
out:
	X509_free(x);
	EVP_PKEY_free(pkey);
	EVP_PKEY_free(cakey);
	sk_X509_pop_free(cas, X509_free);
	ERR_clear_error();
	return ret;
}

/* The OpenSSL version string this process runs with. */
const char *
tls_version_string(void)
{
	return OpenSSL_version(OPENSSL_VERSION);
}
