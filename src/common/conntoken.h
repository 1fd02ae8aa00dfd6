/* conntoken: the connector token that zt tunnel create prints and zt tunnel run --token reads. */
#ifndef ZT_CONNTOKEN_H
#define ZT_CONNTOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A token is "zt1_" followed by base64url without padding (RFC 4648 section 5) of
 *
 *   version (1 byte: 1) | field ... | checksum (4 bytes)
 *
 * where each field is a type (1 byte), a length (2 bytes, big-endian) and that many bytes of
 * value, and the checksum is the first 4 bytes of SHA-256 of everything before it, so that a
 * token cut short or changed when copied is reported as damaged. Fields come in increasing
 * type order; only EDGE repeats:
 *
 *   1 EDGE         port (2 bytes, big-endian, 1-65535) then host (1-253 bytes): a DNS name,
 *                  a dotted-quad IPv4 address or an IPv6 address without brackets; 1 to
 *                  CONNTOKEN_EDGES_MAX of them, in the order given (required)
 *   2 SERVER_NAME  the name the edge's certificate must match when it is not the host
 *                  dialled: a DNS name or an IP address, 1-253 bytes (optional)
 *   3 TUNNEL_ID    16 bytes (required)
 *   4 SECRET       32 bytes (required)
 *   5 PIN          32 bytes: SHA-256 of the SubjectPublicKeyInfo of the edge's CA
 *                  (optional: without it the system's CAs verify the edge)
 *
 * A token is at most CONNTOKEN_MAX characters. Anything else is refused: another version, an
 * unknown field type, fields out of order or repeated, a wrong length, a missing field. The
 * only spelling of a token is the one conntoken_encode writes; conntoken_decode ignores spaces
 * and line breaks around it (not inside). Messages never contain the token or the secret.
 */

#define CONNTOKEN_PREFIX	"zt1_"
#define CONNTOKEN_MAX		2048	/* characters, prefix included */
#define CONNTOKEN_EDGES_MAX	8
#define CONNTOKEN_NAME_MAX	253	/* an edge host or the server name */
#define CONNTOKEN_ID_LEN	16
#define CONNTOKEN_SECRET_LEN	32
#define CONNTOKEN_PIN_MAX	64	/* "sha256//" + 44 base64 characters, as TLS_PIN_MAX */
#define CONNTOKEN_ERR_MAX	256	/* an err buffer of this size holds every message */

struct conntoken_edge {
	char		host[CONNTOKEN_NAME_MAX + 1];	/* IPv6 without brackets */
	uint16_t	port;
};

struct conntoken {
	struct conntoken_edge	edges[CONNTOKEN_EDGES_MAX];
	size_t			nedges;
	char			server_name[CONNTOKEN_NAME_MAX + 1];	/* "" if none */
	uint8_t			tunnel_id[CONNTOKEN_ID_LEN];
	uint8_t			secret[CONNTOKEN_SECRET_LEN];
	char			pin[CONNTOKEN_PIN_MAX];	/* "sha256//BASE64" (the form of
							 * tls_client_opts.pin), "" if none */
};

/* Appends an edge address written host:port, [v6]:port, or a bare host or IPv6 address taking
 * default_port (0: the port is required). Returns 0, or -1 with the reason in err. */
int	conntoken_add_edge(struct conntoken *ct, const char *hostport, uint16_t default_port,
	    char *err, size_t errlen);
/* Writes the token for ct into out (CONNTOKEN_MAX + 1 bytes always suffice). Returns 0, or -1
 * with the reason in err (a field is invalid, or the token would be too long) and out wiped.
 * The caller wipes out (util_cleanse) once done with it: it holds the secret. */
int	conntoken_encode(const struct conntoken *ct, char *out, size_t outlen, char *err,
	    size_t errlen);
/* Reads a token into ct. Returns 0, or -1 with ct wiped and the reason in err: "token is not a
 * zt connector token (it should start with zt1_)", "token is damaged: ..." (cut short, edited,
 * not base64url), "token is invalid: ..." (intact but not a token this zt can use). */
int	conntoken_decode(const char *text, struct conntoken *ct, char *err, size_t errlen);
/* Wipes ct, the secret included (util_cleanse); NULL is a no-op. */
void	conntoken_clear(struct conntoken *ct);

#endif
