/* tls: certificate generation, handshakes (CA, pins, names, addresses, versions, ALPN, close)
 * over socket pairs, and the refusals (key modes, mismatches, malformed pins). */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/util.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/log.h"
#include "common/tls.h"
#include "common/util.h"
#include "suites.h"

#define PING		"ping\n"
#define PING_LEN	(sizeof(PING) - 1)
#define HOST		"edge.zt.test"
#define RUN_SECONDS	5	/* bound on every event loop run */

static const char *const server_names[] = { HOST, "127.0.0.1", "::1" };

/* Per test case, made in the parent so it is removed even when a forked test fails. */
static char root[64];

/* Per test: its directory, a CA, a server leaf signed by it, and the captured log. */
static char dir[PATH_MAX];
static char ca_crt[PATH_MAX], ca_key[PATH_MAX], srv_crt[PATH_MAX], srv_key[PATH_MAX];
static char log_path[PATH_MAX];
static FILE *log_fp;

/* Removes a directory tree (no symbolic links are followed). */
static void
rmtree(const char *path)
{
	struct dirent *de;
	struct stat st;
	char p[PATH_MAX];
	DIR *d;

	if ((d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (!util_snprintf(p, sizeof(p), "%s/%s", path, de->d_name))
			continue;
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			rmtree(p);
		else
			unlink(p);
	}
	closedir(d);
	rmdir(path);
}

/* A path inside the test's directory. */
static const char *
tpath(char *buf, size_t len, const char *name)
{
	ck_assert(util_snprintf(buf, len, "%s/%s", dir, name));
	return buf;
}

/* The test case's directory under /tmp (run in the parent process). */
static void
root_setup(void)
{
	ck_assert(util_strlcpy(root, "/tmp/zt-check-tls-XXXXXX", sizeof(root)));
	ck_assert_ptr_nonnull(mkdtemp(root));
}

/* Removes it with whatever failed tests left in it. */
static void
root_teardown(void)
{
	rmtree(root);
}

/* Each test: its own directory, the log captured there, a CA and a server leaf. */
static void
test_setup(void)
{
	ck_assert(util_snprintf(dir, sizeof(dir), "%s/t-XXXXXX", root));
	ck_assert_ptr_nonnull(mkdtemp(dir));
	tpath(log_path, sizeof(log_path), "log");
	ck_assert_ptr_nonnull(log_fp = fopen(log_path, "w"));
	log_set_output(log_fp);
	log_set_level(LOG_LEVEL_DEBUG);
	tpath(ca_crt, sizeof(ca_crt), "ca.crt");
	tpath(ca_key, sizeof(ca_key), "ca.key");
	tpath(srv_crt, sizeof(srv_crt), "srv.crt");
	tpath(srv_key, sizeof(srv_key), "srv.key");
	ck_assert_int_eq(tls_ca_generate(ca_crt, ca_key, "zt test CA", 30), 0);
	ck_assert_int_eq(tls_leaf_generate(ca_crt, ca_key, server_names, nitems(server_names),
	    true, 30, srv_crt, srv_key), 0);
}

/* Restores the log and removes the test's directory. */
static void
test_teardown(void)
{
	log_set_output(NULL);
	log_set_level(LOG_LEVEL_ERROR);
	if (log_fp != NULL)
		fclose(log_fp);
	log_fp = NULL;
	rmtree(dir);
}

/* Whether the captured log contains needle. */
static bool
log_has(const char *needle)
{
	char *data = NULL;
	size_t len;
	bool found;

	fflush(log_fp);
	if (util_read_file(log_path, 1 << 20, &data, &len) == -1)
		return false;
	found = strstr(data, needle) != NULL;
	free(data);
	return found;
}

/* Empties the captured log, so that a later log_has sees only what follows. */
static void
log_reset(void)
{
	fflush(log_fp);
	ck_assert_int_eq(ftruncate(fileno(log_fp), 0), 0);
	rewind(log_fp);
}

/* One end of a connection under test. */
struct end {
	struct session	*s;
	struct bufferevent *bev;
	bool		 server;
	bool		 connected;
	bool		 failed;
	bool		 eof;
	char		 err[512];
	char		 alpn[TLS_ALPN_MAX + 1];
	char		 sni[256];
	char		 vname[16];
	bool		 has_validity;
	int64_t		 not_before, not_after;
	char		 got[64];
	size_t		 ngot;
	int		 version;
};

enum after_echo {
	AFTER_ECHO_STAY,	/* the server keeps the connection */
	AFTER_ECHO_SHUTDOWN,	/* close_notify, then close */
	AFTER_ECHO_DIRTY,	/* close without close_notify */
};

/* A client writes PING once connected; the server echoes it. */
struct session {
	struct event_base *base;
	struct end	 srv, cli;
	enum after_echo	 after;
	bool		 done;
};

/* Stops the loop once the outcome is known: the echo came back, or both ends have ended. */
static void
session_check(struct session *s)
{
	bool cli_ended = s->cli.failed || s->cli.eof;
	bool srv_ended = s->srv.failed || s->srv.eof;

	if ((s->after == AFTER_ECHO_STAY && s->cli.ngot >= PING_LEN) || (cli_ended && srv_ended)) {
		s->done = true;
		event_base_loopbreak(s->base);
	}
}

/* The server closes (cleanly or not) once its echo has been written out. */
static void
srv_close(struct end *e)
{
	if (e->s->after == AFTER_ECHO_SHUTDOWN)
		tls_bufferevent_shutdown(e->bev);
	bufferevent_free(e->bev);
	e->bev = NULL;
	e->eof = true;
}

/* Collects what arrives; the server echoes it back. */
static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct end *e = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n = evbuffer_get_length(in);

	if (n > sizeof(e->got) - e->ngot)
		n = sizeof(e->got) - e->ngot;
	evbuffer_remove(in, e->got + e->ngot, n);
	e->ngot += n;
	/* Counted first: the write callback (which may close) runs inside bufferevent_write. */
	if (e->server)
		bufferevent_write(bev, e->got + e->ngot - n, n);
	session_check(e->s);
}

/* Once the server's echo is written out, it closes if the session asks it to. */
static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct end *e = arg;

	(void)bev;
	if (e->server && e->ngot >= PING_LEN && e->s->after != AFTER_ECHO_STAY) {
		srv_close(e);
		session_check(e->s);
	}
}

/* Records the handshake (ALPN, SNI, version) or the error; the client then sends PING. */
static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct end *e = arg;
	SSL *ssl;

	if (what & BEV_EVENT_CONNECTED) {
		e->connected = true;
		tls_bufferevent_alpn(bev, e->alpn, sizeof(e->alpn));
		tls_bufferevent_sni(bev, e->sni, sizeof(e->sni));
		util_strlcpy(e->vname, tls_bufferevent_version(bev), sizeof(e->vname));
		e->has_validity = tls_bufferevent_peer_validity(bev, &e->not_before,
		    &e->not_after);
		if ((ssl = bufferevent_openssl_get_ssl(bev)) != NULL)
			e->version = SSL_version(ssl);
		if (!e->server)
			bufferevent_write(bev, PING, PING_LEN);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		e->failed = true;
		tls_bufferevent_error(bev, e->err, sizeof(e->err));
	} else if (what & BEV_EVENT_EOF) {
		e->eof = true;
	}
	session_check(e->s);
}

/* Starts a session on base: a socket pair and the server end; returns the client's fd. */
static int
session_begin(struct session *s, struct event_base *base, struct tls_ctx *sctx,
    enum after_echo after)
{
	int fds[2];

	memset(s, 0, sizeof(*s));
	s->base = base;
	s->after = after;
	s->srv.s = s->cli.s = s;
	s->srv.server = true;
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	s->srv.bev = tls_bufferevent_new(base, sctx, fds[0], true, NULL);
	ck_assert_ptr_nonnull(s->srv.bev);
	bufferevent_setcb(s->srv.bev, read_cb, write_cb, event_cb, &s->srv);
	bufferevent_enable(s->srv.bev, EV_READ | EV_WRITE);
	return fds[1];
}

/* Attaches the client end and runs the loop until the outcome is known (at most 5 s). */
static void
session_run(struct session *s, struct bufferevent *cli)
{
	struct timeval tv = { RUN_SECONDS, 0 };

	ck_assert_ptr_nonnull(cli);
	s->cli.bev = cli;
	bufferevent_setcb(cli, read_cb, write_cb, event_cb, &s->cli);
	bufferevent_enable(cli, EV_READ | EV_WRITE);
	event_base_loopexit(s->base, &tv);
	event_base_dispatch(s->base);
	ck_assert_msg(s->done, "the connection did not finish within %d s", RUN_SECONDS);
}

/* Frees whichever ends are still open. */
static void
session_end(struct session *s)
{
	if (s->srv.bev != NULL)
		bufferevent_free(s->srv.bev);
	if (s->cli.bev != NULL)
		bufferevent_free(s->cli.bev);
	s->srv.bev = s->cli.bev = NULL;
}

/* One connection between two of our contexts; the client checks host. */
static void
session_connect(struct session *s, struct event_base *base, struct tls_ctx *sctx,
    struct tls_ctx *cctx, const char *host, enum after_echo after)
{
	int fd;

	fd = session_begin(s, base, sctx, after);
	session_run(s, tls_bufferevent_new(base, cctx, fd, false, host));
}

/* Asserts that the client got its echo back over TLS 1.3 with no error on either end. */
static void
assert_echo(const struct session *s)
{
	ck_assert_msg(!s->cli.failed, "client failed: %s", s->cli.err);
	ck_assert_msg(!s->srv.failed, "server failed: %s", s->srv.err);
	ck_assert(s->cli.connected && s->srv.connected);
	ck_assert_uint_eq(s->cli.ngot, PING_LEN);
	ck_assert(memcmp(s->cli.got, PING, PING_LEN) == 0);
}

/* Asserts that the handshake failed on the client with a reason containing why. */
static void
assert_refused(const struct session *s, const char *why)
{
	ck_assert(s->cli.failed);
	ck_assert_uint_eq(s->cli.ngot, 0);
	ck_assert_uint_eq(s->srv.ngot, 0);
	ck_assert_msg(strstr(s->cli.err, why) != NULL, "client error '%s' lacks '%s'",
	    s->cli.err, why);
}

/* A server context for the test's leaf. */
static struct tls_ctx *
server_ctx(const char *const *alpn, bool allow_tls12)
{
	struct tls_server_opts o = {
		.cert_file = srv_crt, .key_file = srv_key, .alpn = alpn,
		.allow_tls12 = allow_tls12,
	};
	struct tls_ctx *ctx = tls_server_new(&o);

	ck_assert_ptr_nonnull(ctx);
	return ctx;
}

/* A client context trusting ca_file and/or pin. */
static struct tls_ctx *
client_ctx(const char *ca_file, const char *pin, const char *const *alpn)
{
	struct tls_client_opts o = { .ca_file = ca_file, .pin = pin, .alpn = alpn };
	struct tls_ctx *ctx = tls_client_new(&o);

	ck_assert_ptr_nonnull(ctx);
	return ctx;
}

static struct event_base *
base_new(void)
{
	struct event_base *base = event_base_new();

	ck_assert_ptr_nonnull(base);
	return base;
}

/* The first certificate of a PEM file. */
static X509 *
load_cert(const char *path)
{
	FILE *fp;
	X509 *x;

	ck_assert_ptr_nonnull(fp = fopen(path, "r"));
	x = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	ck_assert_ptr_nonnull(x);
	return x;
}

static mode_t
file_mode(const char *path)
{
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	return st.st_mode & 07777;
}

/* Whether the extension nid of x (which must be present) is critical. */
static bool
ext_critical(X509 *x, int nid)
{
	int i = X509_get_ext_by_NID(x, nid, -1);

	ck_assert_int_ge(i, 0);
	return X509_EXTENSION_get_critical(X509_get_ext(x, i)) == 1;
}

START_TEST(test_generate)
{
	STACK_OF(X509) *chain;
	X509_STORE_CTX *xctx;
	X509_STORE *store;
	X509 *ca, *leaf, *second, *cli;
	BIGNUM *bn;
	EVP_PKEY *pk;
	char group[32], cli_crt[PATH_MAX], cli_key[PATH_MAX];
	const char *const cli_names[] = { "laptop.zt.test" };
	time_t now = time(NULL), t;
	FILE *fp;

	ck_assert_uint_eq(file_mode(ca_key), 0600);
	ck_assert_uint_eq(file_mode(srv_key), 0600);
	ck_assert_uint_eq(file_mode(ca_crt), 0644);
	ck_assert_uint_eq(file_mode(srv_crt), 0644);

	ca = load_cert(ca_crt);
	/* The leaf file holds the leaf, then the CA. */
	ck_assert_ptr_nonnull(fp = fopen(srv_crt, "r"));
	leaf = PEM_read_X509(fp, NULL, NULL, NULL);
	second = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	ck_assert_ptr_nonnull(leaf);
	ck_assert_ptr_nonnull(second);
	ck_assert_int_eq(X509_cmp(second, ca), 0);

	/* CA: self-signed, CA:TRUE pathlen 0 and keyCertSign+cRLSign, both critical; SKI. */
	ck_assert_int_eq(X509_check_issued(ca, ca), X509_V_OK);
	ck_assert_int_eq(X509_check_ca(ca), 1);
	ck_assert_int_eq(X509_get_pathlen(ca), 0);
	ck_assert_uint_eq(X509_get_key_usage(ca), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
	ck_assert(ext_critical(ca, NID_basic_constraints));
	ck_assert(ext_critical(ca, NID_key_usage));
	ck_assert_ptr_nonnull(X509_get0_subject_key_id(ca));
	ck_assert_int_eq(X509_get_signature_nid(ca), NID_ecdsa_with_SHA256);
	pk = X509_get0_pubkey(ca);
	ck_assert(EVP_PKEY_is_a(pk, "EC"));
	ck_assert_int_eq(EVP_PKEY_get_group_name(pk, group, sizeof(group), NULL), 1);
	ck_assert_str_eq(group, "prime256v1");

	/* Serial: positive, non-zero, random 128 bits (more than 64 bits set but for 2^-64). */
	ck_assert_ptr_nonnull(bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), NULL));
	ck_assert(!BN_is_negative(bn) && !BN_is_zero(bn));
	ck_assert_int_le(BN_num_bits(bn), 128);
	ck_assert_int_gt(BN_num_bits(bn), 64);
	BN_free(bn);

	/* notBefore is an hour ago. */
	t = now - 3600 - 120;
	ck_assert_int_gt(X509_cmp_time(X509_get0_notBefore(leaf), &t), 0);
	t = now - 3600 + 120;
	ck_assert_int_lt(X509_cmp_time(X509_get0_notBefore(leaf), &t), 0);

	/* Leaf: not a CA, serverAuth only, names and addresses, AKI, SHA-256. */
	ck_assert_int_eq(X509_check_ca(leaf), 0);
	ck_assert_int_eq(X509_check_purpose(leaf, X509_PURPOSE_SSL_SERVER, 0), 1);
	ck_assert_int_eq(X509_check_purpose(leaf, X509_PURPOSE_SSL_CLIENT, 0), 0);
	ck_assert_uint_eq(X509_get_key_usage(leaf), KU_DIGITAL_SIGNATURE);
	ck_assert_int_eq(X509_check_host(leaf, HOST, 0, 0, NULL), 1);
	ck_assert_int_eq(X509_check_host(leaf, "other.zt.test", 0, 0, NULL), 0);
	ck_assert_int_eq(X509_check_ip_asc(leaf, "127.0.0.1", 0), 1);
	ck_assert_int_eq(X509_check_ip_asc(leaf, "::1", 0), 1);
	ck_assert_int_eq(X509_check_ip_asc(leaf, "127.0.0.2", 0), 0);
	ck_assert_ptr_nonnull(X509_get0_authority_key_id(leaf));
	ck_assert_int_eq(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(leaf),
	    X509_get0_subject_key_id(ca)), 0);
	ck_assert_int_eq(X509_get_signature_nid(leaf), NID_ecdsa_with_SHA256);

	/* The leaf verifies against the CA as `openssl verify -purpose sslserver` would. */
	ck_assert_ptr_nonnull(store = X509_STORE_new());
	ck_assert_int_eq(X509_STORE_add_cert(store, ca), 1);
	ck_assert_ptr_nonnull(xctx = X509_STORE_CTX_new());
	ck_assert_int_eq(X509_STORE_CTX_init(xctx, store, leaf, NULL), 1);
	ck_assert_int_eq(X509_STORE_CTX_set_purpose(xctx, X509_PURPOSE_SSL_SERVER), 1);
	ck_assert_msg(X509_verify_cert(xctx) == 1, "leaf does not verify: %s",
	    X509_verify_cert_error_string(X509_STORE_CTX_get_error(xctx)));
	chain = X509_STORE_CTX_get0_chain(xctx);
	ck_assert_int_eq(sk_X509_num(chain), 2);
	X509_STORE_CTX_free(xctx);

	/* A client leaf has clientAuth only and verifies for that purpose. */
	tpath(cli_crt, sizeof(cli_crt), "cli.crt");
	tpath(cli_key, sizeof(cli_key), "cli.key");
	ck_assert_int_eq(tls_leaf_generate(ca_crt, ca_key, cli_names, 1, false, 1, cli_crt,
	    cli_key), 0);
	cli = load_cert(cli_crt);
	ck_assert_int_eq(X509_check_purpose(cli, X509_PURPOSE_SSL_CLIENT, 0), 1);
	ck_assert_int_eq(X509_check_purpose(cli, X509_PURPOSE_SSL_SERVER, 0), 0);
	ck_assert_ptr_nonnull(xctx = X509_STORE_CTX_new());
	ck_assert_int_eq(X509_STORE_CTX_init(xctx, store, cli, NULL), 1);
	ck_assert_int_eq(X509_STORE_CTX_set_purpose(xctx, X509_PURPOSE_SSL_CLIENT), 1);
	ck_assert_int_eq(X509_verify_cert(xctx), 1);
	X509_STORE_CTX_free(xctx);

	X509_STORE_free(store);
	X509_free(cli);
	X509_free(second);
	X509_free(leaf);
	X509_free(ca);
}
END_TEST

START_TEST(test_generate_refusals)
{
	const char *const bad[] = { "bad name!" };
	const char *const good[] = { "ok.zt.test" };
	char crt[PATH_MAX], key[PATH_MAX], other_crt[PATH_MAX], other_key[PATH_MAX];

	tpath(crt, sizeof(crt), "x.crt");
	tpath(key, sizeof(key), "x.key");
	tpath(other_crt, sizeof(other_crt), "other-ca.crt");
	tpath(other_key, sizeof(other_key), "other-ca.key");
	ck_assert_int_eq(tls_leaf_generate(ca_crt, ca_key, bad, 1, true, 1, crt, key), -1);
	ck_assert(log_has("certificate name 'bad name!' is neither"));
	ck_assert_int_eq(tls_leaf_generate(ca_crt, ca_key, good, 0, true, 1, crt, key), -1);
	ck_assert_int_eq(tls_leaf_generate(ca_crt, ca_key, good, 1, true, 0, crt, key), -1);
	ck_assert_int_eq(tls_ca_generate(crt, key, "", 1), -1);
	ck_assert_int_eq(access(crt, F_OK), -1);
	ck_assert_int_eq(access(key, F_OK), -1);

	/* A CA certificate with another CA's key. */
	ck_assert_int_eq(tls_ca_generate(other_crt, other_key, "other", 1), 0);
	log_reset();
	ck_assert_int_eq(tls_leaf_generate(ca_crt, other_key, good, 1, true, 1, crt, key), -1);
	ck_assert(log_has(ca_crt) && log_has(other_key) && log_has("does not match"));
	/* A leaf is not a CA. */
	ck_assert_int_eq(tls_leaf_generate(srv_crt, srv_key, good, 1, true, 1, crt, key), -1);
	ck_assert(log_has("is not a CA certificate"));
	/* A CA key readable by others. */
	ck_assert_int_eq(chmod(ca_key, 0644), 0);
	ck_assert_int_eq(tls_leaf_generate(ca_crt, ca_key, good, 1, true, 1, crt, key), -1);
	ck_assert_int_eq(chmod(ca_key, 0600), 0);
	ck_assert_int_eq(tls_leaf_generate(ca_crt, ca_key, good, 1, true, 1, crt, key), 0);
}
END_TEST

START_TEST(test_handshake_ca)
{
	struct event_base *base = base_new();
	struct tls_ctx *sctx = server_ctx(NULL, false), *cctx = client_ctx(ca_crt, NULL, NULL);
	struct session s;

	session_connect(&s, base, sctx, cctx, HOST, AFTER_ECHO_STAY);
	assert_echo(&s);
	ck_assert_int_eq(s.cli.version, TLS1_3_VERSION);
	ck_assert_int_eq(s.srv.version, TLS1_3_VERSION);
	ck_assert_str_eq(s.srv.sni, HOST);
	ck_assert_str_eq(s.srv.alpn, "");
	ck_assert_str_eq(s.cli.vname, "TLSv1.3");
	/* The period the leaf and the CA share: both are valid from an hour ago, for 30 days. */
	ck_assert(s.cli.has_validity);
	ck_assert(s.cli.not_before <= (int64_t)time(NULL) - 3500);
	ck_assert(s.cli.not_before >= (int64_t)time(NULL) - 3700);
	ck_assert(s.cli.not_after >= (int64_t)time(NULL) + 29 * 86400);
	ck_assert(s.cli.not_after <= (int64_t)time(NULL) + 31 * 86400);
	/* The server asked for no client certificate. */
	ck_assert(!s.srv.has_validity);
	session_end(&s);
	tls_ctx_free(cctx);
	tls_ctx_free(sctx);
	event_base_free(base);
}
END_TEST

/* A client pinning the certificate in file (and trusting ca_file when given). */
static void
pinned_session(struct session *s, struct event_base *base, struct tls_ctx *sctx,
    const char *ca_file, const char *pinned_file, const char *host)
{
	char pin[TLS_PIN_MAX];
	struct tls_ctx *cctx;

	ck_assert_int_eq(tls_spki_pin_file(pinned_file, pin, sizeof(pin)), 0);
	cctx = client_ctx(ca_file, pin, NULL);
	session_connect(s, base, sctx, cctx, host, AFTER_ECHO_STAY);
	tls_ctx_free(cctx);
}

START_TEST(test_handshake_pin_ca)
{
	struct event_base *base = base_new();
	struct tls_ctx *sctx = server_ctx(NULL, false);
	struct session s;

	/* No CA file: the pinned CA is the only trust anchor. */
	pinned_session(&s, base, sctx, NULL, ca_crt, HOST);
	assert_echo(&s);
	session_end(&s);
	tls_ctx_free(sctx);
	event_base_free(base);
}
END_TEST

START_TEST(test_handshake_pin_leaf)
{
	struct event_base *base = base_new();
	struct tls_ctx *sctx = server_ctx(NULL, false);
	struct session s;

	pinned_session(&s, base, sctx, NULL, srv_crt, HOST);
	assert_echo(&s);
	session_end(&s);
	/* A pin does not replace the name check. */
	pinned_session(&s, base, sctx, NULL, srv_crt, "other.zt.test");
	assert_refused(&s, "hostname mismatch");
	session_end(&s);
	tls_ctx_free(sctx);
	event_base_free(base);
}
END_TEST

START_TEST(test_pin_wrong)
{
	struct event_base *base = base_new();
	struct tls_ctx *sctx = server_ctx(NULL, false);
	char other_crt[PATH_MAX], other_key[PATH_MAX];
	struct session s;

	tpath(other_crt, sizeof(other_crt), "other-ca.crt");
	tpath(other_key, sizeof(other_key), "other-ca.key");
	ck_assert_int_eq(tls_ca_generate(other_crt, other_key, "other CA", 1), 0);

	pinned_session(&s, base, sctx, NULL, other_crt, HOST);
	assert_refused(&s, "pinned public key");
	ck_assert(s.srv.failed);
	ck_assert(log_has("certificate verify failed"));
	session_end(&s);

	/* CA file and pin: both are required. */
	pinned_session(&s, base, sctx, ca_crt, other_crt, HOST);
	assert_refused(&s, "pinned public key");
	session_end(&s);
	pinned_session(&s, base, sctx, ca_crt, ca_crt, HOST);
	assert_echo(&s);
	session_end(&s);
	/* The pin matches but the CA file does not hold the server's CA. */
	pinned_session(&s, base, sctx, other_crt, srv_crt, HOST);
	assert_refused(&s, "certificate verify failed");
	session_end(&s);

	tls_ctx_free(sctx);
	event_base_free(base);
}
END_TEST

START_TEST(test_hostname_mismatch)
{
	struct event_base *base = base_new();
	struct tls_ctx *sctx = server_ctx(NULL, false), *cctx = client_ctx(ca_crt, NULL, NULL);
	struct session s;

	session_connect(&s, base, sctx, cctx, "other.zt.test", AFTER_ECHO_STAY);
	assert_refused(&s, "certificate verify failed: hostname mismatch");
	ck_assert(log_has("certificate verify failed: hostname mismatch"));
	ck_assert(!s.srv.connected);	/* the client never sent its Finished */
	session_end(&s);
	/* A client without a CA file or pin uses the system store, which lacks our CA. */
	tls_ctx_free(cctx);
	cctx = client_ctx(NULL, NULL, NULL);
	session_connect(&s, base, sctx, cctx, HOST, AFTER_ECHO_STAY);
	assert_refused(&s, "certificate verify failed");
	session_end(&s);
	tls_ctx_free(cctx);
	tls_ctx_free(sctx);
	event_base_free(base);
}
END_TEST

START_TEST(test_ip_san)
{
	struct event_base *base = base_new();
	struct tls_ctx *sctx = server_ctx(NULL, false), *cctx = client_ctx(ca_crt, NULL, NULL);
	struct session s;

	session_connect(&s, base, sctx, cctx, "127.0.0.1", AFTER_ECHO_STAY);
	assert_echo(&s);
	ck_assert_str_eq(s.srv.sni, "");	/* no SNI for an address */
	session_end(&s);
	session_connect(&s, base, sctx, cctx, "::1", AFTER_ECHO_STAY);
	assert_echo(&s);
	session_end(&s);
	session_connect(&s, base, sctx, cctx, "127.0.0.2", AFTER_ECHO_STAY);
	assert_refused(&s, "certificate verify failed: IP address mismatch");
	session_end(&s);
	session_connect(&s, base, sctx, cctx, "::2", AFTER_ECHO_STAY);
	assert_refused(&s, "IP address mismatch");
	session_end(&s);
	tls_ctx_free(cctx);
	tls_ctx_free(sctx);
	event_base_free(base);
}
END_TEST

/* A client speaking at most TLS 1.2, made with OpenSSL directly. */
static struct bufferevent *
tls12_client(struct event_base *base, SSL_CTX *c12, int fd)
{
	SSL *ssl;

	ck_assert_int_eq(evutil_make_socket_nonblocking(fd), 0);
	ck_assert_ptr_nonnull(ssl = SSL_new(c12));
	ck_assert_int_eq(SSL_set1_host(ssl, HOST), 1);
	return bufferevent_openssl_socket_new(base, fd, ssl, BUFFEREVENT_SSL_CONNECTING,
	    BEV_OPT_CLOSE_ON_FREE);
}

START_TEST(test_tls12_client)
{
	struct event_base *base = base_new();
	struct tls_ctx *sctx = server_ctx(NULL, false), *sctx12 = server_ctx(NULL, true);
	struct session s;
	SSL_CTX *c12;

	ck_assert_ptr_nonnull(c12 = SSL_CTX_new(TLS_client_method()));
	ck_assert_int_eq(SSL_CTX_set_max_proto_version(c12, TLS1_2_VERSION), 1);
	ck_assert_int_eq(SSL_CTX_load_verify_file(c12, ca_crt), 1);
	SSL_CTX_set_verify(c12, SSL_VERIFY_PEER, NULL);

	/* The default server speaks TLS 1.3 only. */
	session_run(&s, tls12_client(base, c12, session_begin(&s, base, sctx, AFTER_ECHO_STAY)));
	ck_assert(s.cli.failed && s.srv.failed);
	ck_assert(!s.cli.connected && !s.srv.connected);
	ck_assert_msg(strstr(s.srv.err, "unsupported protocol") != NULL, "server error '%s'",
	    s.srv.err);
	session_end(&s);

	/* allow_tls12 lets it in. */
	session_run(&s, tls12_client(base, c12,
	    session_begin(&s, base, sctx12, AFTER_ECHO_STAY)));
	assert_echo(&s);
	ck_assert_int_eq(s.srv.version, TLS1_2_VERSION);
	session_end(&s);

	SSL_CTX_free(c12);
	tls_ctx_free(sctx12);
	tls_ctx_free(sctx);
	event_base_free(base);
}
END_TEST

START_TEST(test_alpn)
{
	const char *const srv_alpn[] = { "zt/1", "http/1.1", NULL };
	const char *const cli_both[] = { "http/1.1", "zt/1", NULL };
	const char *const cli_http[] = { "http/1.1", NULL };
	struct event_base *base = base_new();
	struct tls_ctx *sctx = server_ctx(srv_alpn, false), *plain = server_ctx(NULL, false);
	struct tls_ctx *cctx;
	struct session s;

	/* The server's preference wins. */
	cctx = client_ctx(ca_crt, NULL, cli_both);
	session_connect(&s, base, sctx, cctx, HOST, AFTER_ECHO_STAY);
	assert_echo(&s);
	ck_assert_str_eq(s.srv.alpn, "zt/1");
	ck_assert_str_eq(s.cli.alpn, "zt/1");
	session_end(&s);
	/* A server without ALPN ignores the client's offer. */
	session_connect(&s, base, plain, cctx, HOST, AFTER_ECHO_STAY);
	assert_echo(&s);
	ck_assert_str_eq(s.cli.alpn, "");
	session_end(&s);
	tls_ctx_free(cctx);

	cctx = client_ctx(ca_crt, NULL, cli_http);
	session_connect(&s, base, sctx, cctx, HOST, AFTER_ECHO_STAY);
	assert_echo(&s);
	ck_assert_str_eq(s.cli.alpn, "http/1.1");
	session_end(&s);
	tls_ctx_free(cctx);

	/* A client offering nothing gets nothing. */
	cctx = client_ctx(ca_crt, NULL, NULL);
	session_connect(&s, base, sctx, cctx, HOST, AFTER_ECHO_STAY);
	assert_echo(&s);
	ck_assert_str_eq(s.srv.alpn, "");
	session_end(&s);
	tls_ctx_free(cctx);

	tls_ctx_free(plain);
	tls_ctx_free(sctx);
	event_base_free(base);
}
END_TEST

START_TEST(test_alpn_mismatch)
{
	const char *const srv_alpn[] = { "zt/1", "http/1.1", NULL };
	const char *const cli_alpn[] = { "h2", NULL };
	const char *const bad_alpn[] = { "", NULL };
	struct event_base *base = base_new();
	struct tls_ctx *sctx = server_ctx(srv_alpn, false), *cctx;
	struct tls_client_opts o = { .ca_file = ca_crt, .alpn = bad_alpn };
	struct session s;

	cctx = client_ctx(ca_crt, NULL, cli_alpn);
	session_connect(&s, base, sctx, cctx, HOST, AFTER_ECHO_STAY);
	assert_refused(&s, "no application protocol");
	ck_assert(s.srv.failed);
	session_end(&s);
	tls_ctx_free(cctx);

	/* An empty protocol name is refused when the context is made. */
	ck_assert_ptr_null(tls_client_new(&o));
	ck_assert(log_has("ALPN protocol '' must be 1 to 255 bytes long"));

	tls_ctx_free(sctx);
	event_base_free(base);
}
END_TEST

START_TEST(test_key_mode)
{
	struct tls_server_opts o = { .cert_file = srv_crt, .key_file = srv_key };
	struct tls_ctx *ctx;
	char msg[PATH_MAX * 2 + 128];

	ck_assert_int_eq(chmod(srv_key, 0644), 0);
	ck_assert_ptr_null(tls_server_new(&o));
	ck_assert(util_snprintf(msg, sizeof(msg), "key file '%s' is readable by group or others "
	    "(mode 0644): run chmod 600 %s", srv_key, srv_key));
	ck_assert_msg(log_has(msg), "the log lacks: %s", msg);
	ck_assert_int_eq(chmod(srv_key, 0640), 0);
	ck_assert_ptr_null(tls_server_new(&o));
	ck_assert(log_has("(mode 0640)"));
	ck_assert_int_eq(chmod(srv_key, 0600), 0);
	ck_assert_ptr_nonnull(ctx = tls_server_new(&o));
	tls_ctx_free(ctx);
}
END_TEST

START_TEST(test_key_mismatch)
{
	const char *const names[] = { "other.zt.test" };
	struct tls_server_opts o = { .cert_file = srv_crt };
	struct tls_client_opts co = { .ca_file = ca_crt, .cert_file = srv_crt };
	char other_crt[PATH_MAX], other_key[PATH_MAX], missing[PATH_MAX];
	struct tls_ctx *ctx;

	tpath(other_crt, sizeof(other_crt), "other.crt");
	tpath(other_key, sizeof(other_key), "other.key");
	tpath(missing, sizeof(missing), "missing.crt");
	ck_assert_int_eq(tls_leaf_generate(ca_crt, ca_key, names, 1, true, 1, other_crt,
	    other_key), 0);

	o.key_file = other_key;
	ck_assert_ptr_null(tls_server_new(&o));
	ck_assert(log_has("does not match") && log_has(srv_crt) && log_has(other_key));
	co.key_file = other_key;
	log_reset();
	ck_assert_ptr_null(tls_client_new(&co));
	ck_assert(log_has("does not match"));

	/* Half a client certificate, a missing file, a key that is not PEM. */
	co.key_file = NULL;
	ck_assert_ptr_null(tls_client_new(&co));
	ck_assert(log_has("needs both a certificate file and a key file"));
	o.cert_file = missing;
	o.key_file = srv_key;
	log_reset();
	ck_assert_ptr_null(tls_server_new(&o));
	ck_assert(log_has("could not read certificate file") && log_has(missing));
	co.ca_file = missing;
	co.cert_file = co.key_file = NULL;
	log_reset();
	ck_assert_ptr_null(tls_client_new(&co));
	ck_assert(log_has("could not read certificate file") && log_has(missing));
	co.ca_file = ca_crt;
	co.cert_file = srv_crt;
	o.cert_file = srv_crt;
	o.key_file = srv_crt;	/* mode 0644: refused before parsing */
	ck_assert_ptr_null(tls_server_new(&o));
	ck_assert_int_eq(chmod(other_crt, 0600), 0);
	o.key_file = other_crt;
	log_reset();
	ck_assert_ptr_null(tls_server_new(&o));
	ck_assert(log_has("is not an unencrypted PEM private key"));

	/* The matching pair works, for a server and for a client certificate. */
	o.key_file = srv_key;
	ck_assert_ptr_nonnull(ctx = tls_server_new(&o));
	tls_ctx_free(ctx);
	co.key_file = srv_key;
	ck_assert_ptr_nonnull(ctx = tls_client_new(&co));
	tls_ctx_free(ctx);
}
END_TEST

/* A pin-like string: prefix, then nA letters 'A' (base64 of zero bits), then end. */
static const char *
pin_of(char *buf, size_t len, const char *prefix, size_t nA, const char *end)
{
	char as[64];

	ck_assert_uint_lt(nA, sizeof(as));
	memset(as, 'A', nA);
	as[nA] = '\0';
	ck_assert(util_snprintf(buf, len, "%s%s%s", prefix, as, end));
	return buf;
}

START_TEST(test_pin_malformed)
{
	char good[TLS_PIN_MAX], bad[TLS_PIN_MAX * 2];
	struct tls_client_opts o = { 0 };
	struct tls_ctx *ctx;
	const char *const literal[] = { "", "sha256", "sha256//", "sha256//=" };

	for (size_t i = 0; i < nitems(literal); i++) {
		o.pin = literal[i];
		ck_assert_msg(tls_client_new(&o) == NULL, "pin '%s' was accepted", literal[i]);
	}
	ck_assert(log_has("is not \"sha256//\" followed by the base64"));
	/* Well-formed: 32 zero bytes. */
	o.pin = pin_of(bad, sizeof(bad), "sha256//", 43, "=");
	ck_assert_ptr_nonnull(ctx = tls_client_new(&o));
	tls_ctx_free(ctx);
	/* Wrong algorithm or case, missing padding, trailing bits, base64url, 34 bytes. */
	o.pin = pin_of(bad, sizeof(bad), "SHA256//", 43, "=");
	ck_assert_ptr_null(tls_client_new(&o));
	o.pin = pin_of(bad, sizeof(bad), "sha1//", 43, "=");
	ck_assert_ptr_null(tls_client_new(&o));
	o.pin = pin_of(bad, sizeof(bad), "sha256//", 43, "");
	ck_assert_ptr_null(tls_client_new(&o));
	o.pin = pin_of(bad, sizeof(bad), "sha256//", 42, "B=");
	ck_assert_ptr_null(tls_client_new(&o));
	o.pin = pin_of(bad, sizeof(bad), "sha256//", 42, "-=");
	ck_assert_ptr_null(tls_client_new(&o));
	o.pin = pin_of(bad, sizeof(bad), "sha256//", 46, "==");
	ck_assert_ptr_null(tls_client_new(&o));

	/* Two pins (curl's ';' list) and a trailing space are not one pin. */
	ck_assert_int_eq(tls_spki_pin_file(srv_crt, good, sizeof(good)), 0);
	o.pin = bad;
	ck_assert(util_snprintf(bad, sizeof(bad), "%s;%s", good, good));
	ck_assert_ptr_null(tls_client_new(&o));
	ck_assert(util_snprintf(bad, sizeof(bad), "%s ", good));
	ck_assert_ptr_null(tls_client_new(&o));
	o.pin = good;
	ck_assert_ptr_nonnull(ctx = tls_client_new(&o));
	tls_ctx_free(ctx);
}
END_TEST

START_TEST(test_spki_pin)
{
	char pin[TLS_PIN_MAX], small[16], cmd[PATH_MAX + 256], out[128] = "";
	unsigned char *der = NULL, md[32];
	char b64[64];
	X509 *x;
	FILE *p;
	int len;

	ck_assert_int_eq(tls_spki_pin_file(srv_crt, pin, sizeof(pin)), 0);
	ck_assert_uint_eq(strlen(pin), strlen("sha256//") + 44);
	ck_assert_int_eq(tls_spki_pin_file(srv_crt, small, sizeof(small)), -1);
	ck_assert_int_eq(tls_spki_pin_file(log_path, pin, sizeof(pin)), -1);	/* not PEM */
	ck_assert_int_eq(tls_spki_pin_file(srv_crt, pin, sizeof(pin)), 0);

	/* The same digest computed here from the leaf (the first certificate of the file). */
	x = load_cert(srv_crt);
	ck_assert_int_gt(len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der), 0);
	ck_assert_int_eq(EVP_Digest(der, (size_t)len, md, NULL, EVP_sha256(), NULL), 1);
	ck_assert_int_eq(util_b64_encode(md, sizeof(md), b64, sizeof(b64)), 44);
	ck_assert_str_eq(pin + strlen("sha256//"), b64);
	OPENSSL_free(der);
	X509_free(x);

	/* And as the openssl command line computes it, when it is installed. */
	if (system("command -v openssl >/dev/null 2>&1") != 0)
		return;
	ck_assert(util_snprintf(cmd, sizeof(cmd), "openssl x509 -in '%s' -pubkey -noout | "
	    "openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64",
	    srv_crt));
	ck_assert_ptr_nonnull(p = popen(cmd, "r"));
	ck_assert_ptr_nonnull(fgets(out, sizeof(out), p));
	ck_assert_int_eq(pclose(p), 0);
	out[strcspn(out, "\n")] = '\0';
	ck_assert_str_eq(pin + strlen("sha256//"), out);
}
END_TEST

START_TEST(test_close)
{
	struct event_base *base = base_new();
	struct tls_ctx *sctx = server_ctx(NULL, false), *cctx = client_ctx(ca_crt, NULL, NULL);
	struct session s;

	/* close_notify: the client sees the echo, then a clean end of stream. */
	session_connect(&s, base, sctx, cctx, HOST, AFTER_ECHO_SHUTDOWN);
	ck_assert_uint_eq(s.cli.ngot, PING_LEN);
	ck_assert_msg(s.cli.eof && !s.cli.failed, "client: eof %d, error '%s'", s.cli.eof,
	    s.cli.err);
	session_end(&s);

	/* No close_notify: the client sees the echo, then an error, never a clean EOF. */
	session_connect(&s, base, sctx, cctx, HOST, AFTER_ECHO_DIRTY);
	ck_assert_uint_eq(s.cli.ngot, PING_LEN);
	ck_assert(s.cli.failed && !s.cli.eof);
	ck_assert_msg(strstr(s.cli.err, "unexpected eof") != NULL, "client error '%s'",
	    s.cli.err);
	session_end(&s);

	/* The failure left nothing behind for the next connection. */
	ck_assert_uint_eq(ERR_peek_error(), 0);
	session_connect(&s, base, sctx, cctx, HOST, AFTER_ECHO_STAY);
	assert_echo(&s);
	session_end(&s);

	tls_ctx_free(cctx);
	tls_ctx_free(sctx);
	event_base_free(base);
}
END_TEST

START_TEST(test_ctx_lifetime)
{
	const char *const alpn[] = { "zt/1", NULL };
	struct event_base *base = base_new();
	struct tls_ctx *sctx = server_ctx(alpn, false), *cctx;
	struct bufferevent *cli;
	struct session s;
	char pin[TLS_PIN_MAX];
	int fd;

	tls_ctx_free(NULL);
	/* Contexts freed while their connections live: the connections keep them, with the ALPN
	 * lists and the pin their callbacks read (ASan reports any use after free). */
	ck_assert_int_eq(tls_spki_pin_file(ca_crt, pin, sizeof(pin)), 0);
	cctx = client_ctx(NULL, pin, alpn);
	fd = session_begin(&s, base, sctx, AFTER_ECHO_STAY);
	cli = tls_bufferevent_new(base, cctx, fd, false, HOST);
	tls_ctx_free(cctx);
	tls_ctx_free(sctx);
	session_run(&s, cli);
	assert_echo(&s);
	ck_assert_str_eq(s.cli.alpn, "zt/1");
	session_end(&s);
	event_base_free(base);
}
END_TEST

START_TEST(test_bufferevent_refusals)
{
	struct event_base *base = base_new();
	struct tls_ctx *sctx = server_ctx(NULL, false), *cctx = client_ctx(ca_crt, NULL, NULL);
	char buf[8];
	int64_t nb, na;
	int fds[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	/* A client needs a name to check; on failure the descriptor is closed. */
	ck_assert_ptr_null(tls_bufferevent_new(base, cctx, fds[0], false, NULL));
	ck_assert_int_eq(fcntl(fds[0], F_GETFD), -1);
	ck_assert_int_eq(errno, EBADF);
	ck_assert_ptr_null(tls_bufferevent_new(base, sctx, fds[1], false, HOST));
	ck_assert(log_has("a server context cannot make a client connection"));
	ck_assert_int_eq(fcntl(fds[1], F_GETFD), -1);

	/* Accessors on something that is not a TLS bufferevent. */
	ck_assert(!tls_bufferevent_alpn(NULL, buf, sizeof(buf)));
	ck_assert_str_eq(buf, "");
	ck_assert(!tls_bufferevent_sni(NULL, buf, sizeof(buf)));
	ck_assert(!tls_bufferevent_peer_validity(NULL, &nb, &na));
	ck_assert_str_eq(tls_bufferevent_version(NULL), "");
	tls_bufferevent_shutdown(NULL);

	tls_ctx_free(cctx);
	tls_ctx_free(sctx);
	event_base_free(base);
}
END_TEST

Suite *
tls_suite(void)
{
	Suite *s = suite_create("tls");
	TCase *tc = tcase_create("tls");

	tcase_add_unchecked_fixture(tc, root_setup, root_teardown);
	tcase_add_checked_fixture(tc, test_setup, test_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_generate);
	tcase_add_test(tc, test_generate_refusals);
	tcase_add_test(tc, test_handshake_ca);
	tcase_add_test(tc, test_handshake_pin_ca);
	tcase_add_test(tc, test_handshake_pin_leaf);
	tcase_add_test(tc, test_pin_wrong);
	tcase_add_test(tc, test_hostname_mismatch);
	tcase_add_test(tc, test_ip_san);
	tcase_add_test(tc, test_tls12_client);
	tcase_add_test(tc, test_alpn);
	tcase_add_test(tc, test_alpn_mismatch);
	tcase_add_test(tc, test_key_mode);
	tcase_add_test(tc, test_key_mismatch);
	tcase_add_test(tc, test_pin_malformed);
	tcase_add_test(tc, test_spki_pin);
	tcase_add_test(tc, test_close);
	tcase_add_test(tc, test_ctx_lifetime);
	tcase_add_test(tc, test_bufferevent_refusals);
	suite_add_tcase(s, tc);
	return s;
}
