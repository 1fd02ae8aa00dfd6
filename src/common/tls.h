/* tls: OpenSSL 3 contexts (TLS 1.3, ALPN, pinning), certificate generation and bufferevents. */
#ifndef ZT_TLS_H
#define ZT_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bufferevent;
struct event_base;
struct tls_ctx;

/* Longest pin string: "sha256//" + base64 of 32 bytes (52 characters), with room to spare. */
#define TLS_PIN_MAX 64
/* Longest ALPN protocol name (RFC 7301 section 3.1), without the NUL. */
#define TLS_ALPN_MAX 255

struct tls_server_opts {
	const char	*cert_file;	/* PEM chain: leaf first, then intermediates/CA */
	const char	*key_file;	/* PEM private key; refused if group/other can read it */
	const char *const *alpn;	/* NULL-terminated protocols in preference order, or NULL */
	bool		 allow_tls12;	/* default: TLS 1.3 only */
};

struct tls_client_opts {
	const char	*ca_file;	/* PEM trust anchors; NULL with no pin: the system store */
	const char	*pin;		/* "sha256//BASE64" of an SPKI in the peer's chain */
	const char *const *alpn;	/* NULL-terminated, or NULL */
	const char	*cert_file;	/* optional client certificate, with key_file */
	const char	*key_file;
	bool		 allow_tls12;
};

/*
 * Making a context sets SIGPIPE to ignored if it still has its default action: OpenSSL answers
 * a peer's unclean close with an alert written into the closed socket.
 */

/* A server context; the server picks the first protocol of its alpn list that the client offers
 * and fails the handshake (no_application_protocol) when the client offers only others.
 * Returns NULL after logging. */
struct tls_ctx	*tls_server_new(const struct tls_server_opts *opts);
/* A client context verifying the server against ca_file, the pin, both, or the system store.
 * Its certificate, if any, goes to servers that ask for one (tls_server_new's do not).
 * Returns NULL after logging (a malformed pin is refused here). */
struct tls_ctx	*tls_client_new(const struct tls_client_opts *opts);
/* Drops the caller's reference: connections made from ctx keep it alive until they are freed.
 * NULL is a no-op. */
void		 tls_ctx_free(struct tls_ctx *ctx);

/* A bufferevent doing TLS over fd. fd belongs to the call from then on: it is closed when the
 * bufferevent is freed, or at once if the call fails. For a client, hostname (a DNS name or an
 * IP address) is checked against the certificate and, when it is a name, sent as SNI; a client
 * without a hostname is refused. An unclean close by the peer is reported as BEV_EVENT_ERROR.
 * Returns NULL after logging. */
struct bufferevent *tls_bufferevent_new(struct event_base *base, struct tls_ctx *ctx, int fd,
		    bool server, const char *hostname);
/* After the handshake: the negotiated ALPN protocol into buf ("" if none). Returns false, with
 * buf "", when bev is not a TLS bufferevent or the name does not fit (TLS_ALPN_MAX + 1 does). */
bool		 tls_bufferevent_alpn(struct bufferevent *bev, char *buf, size_t len);
/* After the handshake: the SNI name the client sent ("" if none). Returns false, with buf "",
 * when bev is not a TLS bufferevent or the name does not fit (256 bytes always do). */
bool		 tls_bufferevent_sni(struct bufferevent *bev, char *buf, size_t len);
/* After the handshake: the period in which every certificate of the peer's chain is valid (the
 * latest notBefore and the earliest notAfter, in seconds since the epoch), from the verified
 * chain when there is one. false when bev is not a TLS bufferevent, the peer sent no
 * certificate or a date cannot be read. */
bool		 tls_bufferevent_peer_validity(struct bufferevent *bev, int64_t *not_before,
		    int64_t *not_after);
/* After the handshake: the protocol version ("TLSv1.3"), "" when bev is not TLS. */
const char	*tls_bufferevent_version(struct bufferevent *bev);
/* Lets OpenSSL read as much as is waiting (up to four records) with one read() instead of a
 * record's header and body with two. libevent 2.1 does not know about what OpenSSL then holds:
 * the owner of bev must read it (tls_bufferevent_pending, ev_bufferevent_read_now) after each
 * read callback, after the handshake and whenever it enables reading again, or a connection
 * stalls with data in OpenSSL's buffer. No-op when bev is not a TLS bufferevent. */
void		 tls_bufferevent_read_ahead(struct bufferevent *bev);
/* True when OpenSSL holds received bytes of bev (a record, or plaintext) that libevent has
 * not read yet: libevent 2.1 reads them only when the socket is readable again. False when bev
 * is not a TLS bufferevent. */
bool		 tls_bufferevent_pending(struct bufferevent *bev);
/* Gathers the records OpenSSL writes in one turn of the event loop into one write() (at most
 * 64 KiB each), instead of a write() and a TCP segment per record. The owner must call
 * tls_bufferevent_flush before it frees bev, and count tls_bufferevent_unsent as output still
 * to go. False (nothing changed) when bev is not a TLS bufferevent or it cannot be set up. */
bool		 tls_bufferevent_gather(struct bufferevent *bev);
/* Bytes gathered and not yet written (0 without gathering). When nonzero, bev's write callback
 * runs again once they are written, as if the output had just drained. */
size_t		 tls_bufferevent_unsent(struct bufferevent *bev);
/* Writes what is gathered now, as far as the socket takes it without blocking, and stops
 * waiting to write the rest: for just before bufferevent_free. */
void		 tls_bufferevent_flush(struct bufferevent *bev);
/* Moves up to about max bytes of the records OpenSSL already holds (read ahead) into bev's
 * input, without waiting for libevent's next read callback; returns the bytes moved. Stops at
 * anything but data (a partial record, an alert, an error: left to libevent). Each read takes
 * a reservation of bev's max single read (at most 16 KiB), as libevent's own reads do. */
size_t		 tls_bufferevent_read_buffered(struct bufferevent *bev, size_t max);
/* Sends close_notify (best effort) before the caller frees the bufferevent; call it once the
 * output buffer has drained, since data still queued would follow the close_notify. */
void		 tls_bufferevent_shutdown(struct bufferevent *bev);
/* Describes the last TLS error of bev in buf (e.g. "certificate verify failed: hostname
 * mismatch"), shortened to fit; logs the whole of it, draining OpenSSL's error queue. */
void		 tls_bufferevent_error(struct bufferevent *bev, char *buf, size_t len);

/* "sha256//BASE64" of the SubjectPublicKeyInfo of the first certificate in a PEM file (the
 * format of curl --pinnedpubkey); len must be at least TLS_PIN_MAX. Returns 0, or -1 after
 * logging. */
int		 tls_spki_pin_file(const char *cert_file, char *pin, size_t len);

/* Generates a self-signed CA (ECDSA P-256) valid for days; key written 0600, cert 0644.
 * Returns 0, or -1 after logging. */
int		 tls_ca_generate(const char *cert_file, const char *key_file, const char *cn,
		    int days);
/* Generates a leaf signed by the CA for names (DNS names or IP addresses, as subjectAltName);
 * server selects serverAuth or clientAuth usage. cert_file gets the leaf followed by the CA.
 * Returns 0, or -1 after logging. */
int		 tls_leaf_generate(const char *ca_cert_file, const char *ca_key_file,
		    const char *const *names, size_t nnames, bool server, int days,
		    const char *cert_file, const char *key_file);

/* The OpenSSL version string this process runs with. */
const char	*tls_version_string(void);

#endif
