/* dns: DNS message parsing and building (RFC 1035, 3597, 6891, 8914; RFC 9267 checks). */
#ifndef ZT_DNS_H
#define ZT_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_HEADER_LEN	12
#define DNS_MAXNAME	255	/* wire form, including the root label */
#define DNS_MAXLABEL	63
#define DNS_MAXPTRS	128	/* compression pointers followed per name */
#define DNS_MAXTEXT	1024	/* dns_name_to_text of any name fits, with its NUL */
#define DNS_MAXMSG	65535	/* TCP; also the largest builder size */
#define DNS_UDP_MIN	512	/* RFC 1035 UDP limit, and the floor for EDNS sizes */
#define DNS_OPT_FIXED	11	/* an OPT RR without options: root, type, class, ttl, rdlength */
#define DNS_TYPE_TEXT	16	/* buffer for dns_type_name / dns_class_name / dns_rcode_name */
#define DNS_EXPAND_MAX	1027	/* expanded RDATA of a name-bearing type (NAPTR: 4 + 3 * 256 + 255) */

/* Error codes; every function returning int gives 0 (or a count) or one of these. */
enum dns_error {
	DNS_OK = 0,
	/* dns_parse: which part of the message was wrong (msg->cause says how). */
	DNS_E_HEADER = -1,	/* shorter than the 12-byte header: drop */
	DNS_E_QUESTION = -2,	/* a question is missing, truncated or has a bad name */
	DNS_E_RR = -3,		/* an RR is truncated or has a bad name; a count lies */
	DNS_E_OPT = -4,		/* OPT outside additional, twice, non-root owner, bad options */
	/* Details. */
	DNS_E_TRUNCATED = -5,	/* ran off the end of the buffer (or of the RDATA) */
	DNS_E_POINTER = -6,	/* compression pointer not strictly backwards (or its target's
				 * labels run forward past it), into the header, or more than
				 * DNS_MAXPTRS of them */
	DNS_E_LABEL = -7,	/* reserved label type (0x40, 0x80) or label over 63 bytes */
	DNS_E_NAMELEN = -8,	/* name over 255 bytes */
	DNS_E_RDATA = -9,	/* RDATA fixed fields missing or bytes left over */
	DNS_E_SPACE = -10,	/* output does not fit (builder size, caller buffer) */
	DNS_E_SYNTAX = -11,	/* text: bad escape, empty label; not a reverse name */
	DNS_E_INVAL = -12,	/* bad argument: malformed struct, section order, second OPT */
};

enum dns_section {
	DNS_SEC_QUESTION = 0,
	DNS_SEC_ANSWER,
	DNS_SEC_AUTHORITY,
	DNS_SEC_ADDITIONAL,
};
#define DNS_NSECTIONS	4

/* RR types (IANA "Resource Record (RR) TYPEs"). */
#define DNS_T_A		1
#define DNS_T_NS	2
#define DNS_T_MD	3
#define DNS_T_MF	4
#define DNS_T_CNAME	5
#define DNS_T_SOA	6
#define DNS_T_MB	7
#define DNS_T_MG	8
#define DNS_T_MR	9
#define DNS_T_NULL	10
#define DNS_T_WKS	11
#define DNS_T_PTR	12
#define DNS_T_HINFO	13
#define DNS_T_MINFO	14
#define DNS_T_MX	15
#define DNS_T_TXT	16
#define DNS_T_RP	17
#define DNS_T_AFSDB	18
#define DNS_T_RT	21
#define DNS_T_SIG	24
#define DNS_T_KEY	25
#define DNS_T_PX	26
#define DNS_T_AAAA	28
#define DNS_T_LOC	29
#define DNS_T_SRV	33
#define DNS_T_NAPTR	35
#define DNS_T_KX	36
#define DNS_T_CERT	37
#define DNS_T_DNAME	39
#define DNS_T_OPT	41
#define DNS_T_DS	43
#define DNS_T_SSHFP	44
#define DNS_T_RRSIG	46
#define DNS_T_NSEC	47
#define DNS_T_DNSKEY	48
#define DNS_T_NSEC3	50
#define DNS_T_NSEC3PARAM 51
#define DNS_T_TLSA	52
#define DNS_T_SVCB	64
#define DNS_T_HTTPS	65
#define DNS_T_SPF	99
#define DNS_T_TKEY	249
#define DNS_T_TSIG	250
#define DNS_T_IXFR	251
#define DNS_T_AXFR	252
#define DNS_T_ANY	255
#define DNS_T_URI	256
#define DNS_T_CAA	257

/* Classes. */
#define DNS_C_IN	1
#define DNS_C_CH	3
#define DNS_C_HS	4
#define DNS_C_NONE	254
#define DNS_C_ANY	255

/* Opcodes. */
#define DNS_OP_QUERY	0
#define DNS_OP_IQUERY	1
#define DNS_OP_STATUS	2
#define DNS_OP_NOTIFY	4
#define DNS_OP_UPDATE	5

/* Response codes; values above 15 need the OPT extended rcode. */
#define DNS_R_NOERROR	0
#define DNS_R_FORMERR	1
#define DNS_R_SERVFAIL	2
#define DNS_R_NXDOMAIN	3
#define DNS_R_NOTIMP	4
#define DNS_R_REFUSED	5
#define DNS_R_YXDOMAIN	6
#define DNS_R_YXRRSET	7
#define DNS_R_NXRRSET	8
#define DNS_R_NOTAUTH	9
#define DNS_R_NOTZONE	10
#define DNS_R_BADVERS	16

/* The 16-bit flags word of the header (bytes 2-3, host order here). */
#define DNS_F_QR	0x8000
#define DNS_F_OPCODE	0x7800
#define DNS_F_AA	0x0400
#define DNS_F_TC	0x0200
#define DNS_F_RD	0x0100
#define DNS_F_RA	0x0080
#define DNS_F_Z		0x0040
#define DNS_F_AD	0x0020
#define DNS_F_CD	0x0010
#define DNS_F_RCODE	0x000f
#define DNS_OPCODE(flags)	(((unsigned int)(flags) >> 11) & 0xf)
#define DNS_RCODE(flags)	((unsigned int)(flags) & 0xf)
#define DNS_MKOPCODE(op)	((uint16_t)(((unsigned int)(op) & 0xf) << 11))

/* EDNS(0): the DO bit in the OPT flags, option codes, extended DNS errors (RFC 8914). */
#define DNS_EDNS_DO		0x8000
#define DNS_OPT_ECS		8
#define DNS_OPT_COOKIE		10
#define DNS_OPT_PADDING		12
#define DNS_OPT_EDE		15
#define DNS_EDE_OTHER		0
#define DNS_EDE_STALE_ANSWER	3
#define DNS_EDE_NOT_READY	14
#define DNS_EDE_BLOCKED		15
#define DNS_EDE_CENSORED	16
#define DNS_EDE_FILTERED	17
#define DNS_EDE_PROHIBITED	18
#define DNS_EDE_NOT_AUTH	20
#define DNS_EDE_NOT_SUPPORTED	21
#define DNS_EDE_NETWORK_ERROR	23
#define DNS_EDE_INVALID_DATA	24

/* A domain name in uncompressed wire form: length-prefixed labels ending with the root's 0.
 * len counts every byte, the final 0 included ("." is len 1, wire {0}). */
struct dns_name {
	uint8_t	len;
	uint8_t	wire[DNS_MAXNAME];
};

/* The first question of a message. */
struct dns_question {
	struct dns_name	name;		/* as sent: case preserved */
	uint16_t	qtype;
	uint16_t	qclass;
	size_t		offset;		/* where it starts in the message */
	size_t		len;		/* its bytes in the message (name as written + 4) */
};

/* The OPT pseudo-RR (RFC 6891). Its owner is the root, so in the message:
 * offset + 1 is TYPE, + 3 CLASS (the UDP size), + 5 TTL, + 9 RDLENGTH, + 11 the options. */
struct dns_edns {
	bool		present;
	uint16_t	udp_size;	/* as sent: callers clamp it to [512, their maximum] */
	uint8_t		ext_rcode;	/* upper 8 bits of the 12-bit rcode */
	uint8_t		version;
	uint16_t	flags;		/* DNS_EDNS_DO and the Z bits */
	size_t		offset;		/* where the OPT RR starts */
	size_t		len;		/* its bytes, so a forwarder can cut it out */
	size_t		opt_offset;	/* where its options start */
	uint16_t	opt_len;	/* their total length (walk with dns_opt_next) */
};

/* A parsed message: header fields and where everything is. Offsets index the parsed buffer. */
struct dns_msg {
	uint16_t	id;
	uint16_t	flags;		/* DNS_F_*, DNS_OPCODE(), DNS_RCODE() */
	uint16_t	count[DNS_NSECTIONS];	/* QD, AN, NS, AR as announced */
	size_t		sec_off[DNS_NSECTIONS];	/* where each section starts */
	size_t		end;		/* just past the last record */
	size_t		trailing;	/* bytes after end: tolerated, not parsed */
	bool		walked;		/* every RR was walked (dns_parse, not _question_only) */
	bool		has_question;	/* qdcount >= 1; q is the first question */
	struct dns_question q;
	struct dns_edns	edns;
	int		cause;		/* after an error: the DNS_E_* detail, else DNS_OK */
};

/* One resource record found by dns_rr_next. Offsets index the message. */
struct dns_rr {
	struct dns_name	name;		/* owner, decompressed */
	uint16_t	type;
	uint16_t	rclass;
	uint32_t	ttl;		/* as sent; RFC 2181 says treat values >= 2^31 as 0 */
	uint16_t	rdlength;
	const uint8_t	*rdata;		/* into the message; may hold compression pointers */
	enum dns_section section;
	size_t		offset;		/* where the RR (its owner name) starts */
	size_t		ttl_offset;	/* where the 4-byte TTL is: rewrite with dns_rr_set_ttl */
	size_t		rdata_offset;
	size_t		end;		/* just past the RDATA */
};

/* SOA RDATA (RFC 1035 section 3.3.13). */
struct dns_soa {
	struct dns_name	mname;
	struct dns_name	rname;
	uint32_t	serial;
	uint32_t	refresh;
	uint32_t	retry;
	uint32_t	expire;
	uint32_t	minimum;
};

/* A label the builder wrote (at an offset < 0x4000, the first DNS_COMPRESS_MAX of them), as a
 * node of a suffix trie: its suffix is this label followed by the parent's suffix (the root for
 * -1). Lookups walk it from the right: each costs the name's labels plus the siblings met, and
 * all of a message's lookups together compare at most DNS_COMPRESS_WORK label bytes. */
#define DNS_COMPRESS_MAX 64
#define DNS_COMPRESS_WORK (1 << 20)	/* label bytes compared per message, then no more
					 * compression: a bound on CPU for hostile input */
struct dns_comp {
	uint16_t	off;		/* offset of the label in the message (< 0x4000) */
	int8_t		parent;
	int8_t		child;		/* first child, -1 for none */
	int8_t		sibling;	/* next child of the same parent, -1 for none */
};

/* Writes a message into a caller's buffer. Treat the fields as private. */
struct dns_builder {
	uint8_t		*buf;
	size_t		 size;		/* bytes of buf that may be written */
	size_t		 len;		/* bytes written */
	size_t		 reserve;	/* kept free for the OPT RR */
	size_t		 qend;		/* end of the question section */
	uint16_t	 count[DNS_NSECTIONS];
	enum dns_section section;	/* sections only move forward */
	bool		 has_opt;
	bool		 truncated;	/* an RR did not fit */
	int8_t		 comp_root;	/* first label whose parent is the root, -1 for none */
	int8_t		 comp_qname;	/* the label at DNS_HEADER_LEN (the question name's
					 * first), -1 for none: names equal to it are a pointer */
	size_t		 comp_work;	/* label bytes compared so far */
	size_t		 ncomp;
	struct dns_comp	 comp[DNS_COMPRESS_MAX];
};

/* A short description of a DNS_E_* code, for logs. */
const char	*dns_strerror(int err);

/* --- names --------------------------------------------------------------------------- */

/* Reads the (possibly compressed) name at *pos of the message msg[0..msglen) and advances *pos
 * past it as written. A pointer must aim strictly before the labels holding it and not into the
 * header, and what is read from its target on must lie before those labels too (an encoder only
 * points at names written earlier): no loops, no forward references. At most DNS_MAXPTRS
 * pointers; labels <= 63, name <= 255 bytes. *pos is untouched on error. */
int	 dns_name_read(const uint8_t *msg, size_t msglen, size_t *pos, struct dns_name *name);
/* Parses "kratos.webdevelop.internal" (a trailing dot is allowed, "." is the root; \DDD and \X
 * escapes). Rejects "", empty labels, labels over 63 and names over 255 bytes. */
int	 dns_name_from_text(const char *text, struct dns_name *name);
/* Writes the name as dig does, without the trailing dot ("." for the root): the characters
 * . \ " ( ) ; @ $ escaped with a backslash, other bytes outside 0x21..0x7e as \DDD. Returns the
 * length (without the NUL), DNS_E_SPACE (buf is then "") or DNS_E_INVAL for a malformed name;
 * DNS_MAXTEXT bytes are always enough. Case is kept. */
int	 dns_name_to_text(const struct dns_name *name, char *buf, size_t len);
/* ASCII case-insensitive equality. */
bool	 dns_name_equal(const struct dns_name *a, const struct dns_name *b);
/* Lower-cases A-Z in place. */
void	 dns_name_lower(struct dns_name *name);
/* Number of labels, the root not counted ("." is 0, "a.b" is 2); -1 if name is malformed. */
int	 dns_name_labels(const struct dns_name *name);
/* True if name is zone or below it, by whole labels ("a.zone" and "zone", not "azone"). */
bool	 dns_name_is_subdomain(const struct dns_name *name, const struct dns_name *zone);
/* Points *label at label idx (0 is the leftmost) and sets *labellen; DNS_E_INVAL past the end. */
int	 dns_name_label(const struct dns_name *name, size_t idx, const uint8_t **label,
	    size_t *labellen);
/* Removes the n leftmost labels in place ("a.b.c", 1 -> "b.c"); DNS_E_INVAL if there are fewer. */
int	 dns_name_strip(struct dns_name *name, size_t n);
/* out = the labels of prefix followed by suffix ("host" + "lan" -> "host.lan"); out may alias
 * either argument. */
int	 dns_name_concat(const struct dns_name *prefix, const struct dns_name *suffix,
	    struct dns_name *out);

/* --- parsing ------------------------------------------------------------------------- */

/* Parses and validates a whole message: header, every question, every RR of every section
 * (owner, fixed fields, RDATA inside the buffer; counts that lie fail), and the OPT RR. RDATA
 * contents are checked by dns_rdata_expand. Returns 0, or DNS_E_HEADER / _QUESTION / _RR / _OPT
 * with msg->cause set; after all but DNS_E_HEADER, id, flags and count are filled in (enough
 * to answer FORMERR). msg keeps offsets, not pointers: buf stays the caller's. */
int	 dns_parse(const uint8_t *buf, size_t len, struct dns_msg *msg);
/* Cheap path: the header and the first question only. Fills id, flags, count, sec_off[0],
 * has_question and q; walked is false, edns is not looked at. */
int	 dns_parse_question_only(const uint8_t *buf, size_t len, struct dns_msg *msg);
/* The full 12-bit rcode: the header's 4 bits plus the OPT extended bits when present. */
unsigned int dns_msg_rcode(const struct dns_msg *msg);
/* Reads the RR at *pos of a message that dns_parse accepted (same buf; len >= msg->end) and
 * advances *pos. Start at msg->sec_off[DNS_SEC_ANSWER] to walk every RR (the OPT RR included),
 * or at any section's start. Returns 1 with rr filled, 0 at the end of the message, or an
 * error (DNS_E_INVAL for a msg from dns_parse_question_only or a pos before the answers). */
int	 dns_rr_next(const struct dns_msg *msg, const uint8_t *buf, size_t len, size_t *pos,
	    struct dns_rr *rr);
/* Walks the options of an OPT RR (opts = buf + edns.opt_offset, optlen = edns.opt_len).
 * Returns 1 with code/data/datalen set, 0 at the end, or DNS_E_OPT. */
int	 dns_opt_next(const uint8_t *opts, size_t optlen, size_t *pos, uint16_t *code,
	    const uint8_t **data, uint16_t *datalen);

/* Converts the RDATA of rr (read from buf by dns_rr_next) into a self-contained form: names
 * inside NS, MD, MF, CNAME, SOA, MB, MG, MR, PTR, MINFO, MX, RP, AFSDB, RT, PX, SRV, NAPTR
 * (RFC 3597 section 4) decompressed; every other type copied verbatim. Checks the fixed
 * fields (IN A 4 bytes, IN AAAA 16, MX 2 + name, SRV 6 + name, SOA 2 names + 20) and that
 * nothing is left over: DNS_E_RDATA otherwise. *outlen gets the length; out may be NULL (with
 * outcap 0) to validate only. Name-bearing types expand to at most DNS_EXPAND_MAX bytes, the
 * others keep their rdlength. */
int	 dns_rdata_expand(const uint8_t *buf, size_t len, const struct dns_rr *rr, uint8_t *out,
	    size_t outcap, size_t *outlen);
/* Reads SOA RDATA at buf[rdoff .. rdoff + rdlen): in a message (dns_soa_read(msg, msglen,
 * rr.rdata_offset, rr.rdlength, &soa)) or expanded (dns_soa_read(rd, n, 0, n, &soa)). */
int	 dns_soa_read(const uint8_t *buf, size_t len, size_t rdoff, size_t rdlen,
	    struct dns_soa *soa);
/* Negative-caching TTL (RFC 2308 section 5): the smaller of the SOA RR's TTL and MINIMUM. */
uint32_t dns_soa_negative_ttl(uint32_t soa_rr_ttl, const struct dns_soa *soa);

/* --- building ------------------------------------------------------------------------ */

/* Starts a message in buf, of which at most size bytes may be written (the smaller of the
 * buffer and the client's limit; capped at 65535), with the header's id and flags. */
int	 dns_builder_init(struct dns_builder *b, uint8_t *buf, size_t size, uint16_t id,
	    uint16_t flags);
/* Keeps n bytes free for the OPT RR written last (DNS_OPT_FIXED + options); RRs that would
 * use them do not fit. dns_build_opt releases the reservation. */
int	 dns_builder_reserve(struct dns_builder *b, size_t n);
/* Appends a question (before any RR). */
int	 dns_build_question(struct dns_builder *b, const struct dns_name *name, uint16_t qtype,
	    uint16_t qclass);
/* Appends an RR to section sec (sections go in order: answer, authority, additional). rdata is
 * self-contained (as dns_rdata_expand makes it); owner names and the names inside NS, CNAME,
 * PTR, MX, SOA, MD, MF, MB, MG, MR and MINFO RDATA are compressed (never SRV's: RFC 2782).
 * If it does not fit, nothing is written, the builder is marked truncated and DNS_E_SPACE
 * returned: the caller then usually calls dns_builder_truncate. */
int	 dns_build_rr(struct dns_builder *b, enum dns_section sec, const struct dns_name *owner,
	    uint16_t type, uint16_t rclass, uint32_t ttl, const uint8_t *rdata, size_t rdlen);
/* Copies rr, as read by dns_rr_next from msg, into section sec (names re-compressed against
 * this message). Uses rr->ttl, so adjust a copy of rr to change it. OPT RRs are refused
 * (DNS_E_INVAL): write them with dns_build_opt. */
int	 dns_build_rr_copy(struct dns_builder *b, enum dns_section sec, const uint8_t *msg,
	    size_t msglen, const struct dns_rr *rr);
/* Appends the OPT RR to the additional section: UDP size, extended rcode (upper 8 bits),
 * version, flags (DNS_EDNS_DO) and raw options (built with dns_opt_append), once. */
int	 dns_build_opt(struct dns_builder *b, uint16_t udp_size, uint8_t ext_rcode, uint8_t version,
	    uint16_t flags, const uint8_t *opts, size_t optlen);
/* Drops every RR written (the question stays) and sets TC, as dnsmasq answers when a local
 * answer does not fit. An OPT RR may be written afterwards. */
void	 dns_builder_truncate(struct dns_builder *b);
/* Writes the section counts into the header; returns the message length. */
size_t	 dns_builder_finish(struct dns_builder *b);

/* Appends one EDNS option (code, length, data) at buf[*len] of a buffer of cap bytes. */
int	 dns_opt_append(uint8_t *buf, size_t cap, size_t *len, uint16_t code, const void *data,
	    size_t datalen);
/* Appends an Extended DNS Error option (RFC 8914): info code and UTF-8 text (may be NULL). */
int	 dns_opt_append_ede(uint8_t *buf, size_t cap, size_t *len, uint16_t info_code,
	    const char *text);

/* --- raw buffers (in place, no parse needed) ----------------------------------------- */

int	 dns_get_id(const uint8_t *buf, size_t len, uint16_t *id);
int	 dns_set_id(uint8_t *buf, size_t len, uint16_t id);
int	 dns_get_flags(const uint8_t *buf, size_t len, uint16_t *flags);
/* flags = (flags & ~clear) | set; e.g. answer REFUSED in place:
 * dns_set_flags(buf, n, DNS_F_QR | DNS_R_REFUSED, DNS_F_RCODE). */
int	 dns_set_flags(uint8_t *buf, size_t len, uint16_t set, uint16_t clear);
/* Rewrites one section count (e.g. 0 after cutting the message short). */
int	 dns_set_count(uint8_t *buf, size_t len, enum dns_section sec, uint16_t count);
/* Rewrites the TTL of an RR found by dns_rr_next, in place. */
int	 dns_rr_set_ttl(uint8_t *buf, size_t len, const struct dns_rr *rr, uint32_t ttl);
/* Rewrites the UDP size of the OPT RR found by dns_parse, in place. */
int	 dns_edns_set_udp_size(uint8_t *buf, size_t len, const struct dns_msg *msg, uint16_t size);

/* --- text ---------------------------------------------------------------------------- */

/* "A", "AAAA", unknown as "TYPE65280" (RFC 3597); buffers of DNS_TYPE_TEXT bytes suffice. */
int	 dns_type_name(uint16_t type, char *buf, size_t len);
/* The inverse, case-insensitive, "TYPEnnn" included. */
int	 dns_type_from_name(const char *s, uint16_t *type);
/* "IN", "CH", "HS", "NONE", "ANY", else "CLASS%u". */
int	 dns_class_name(uint16_t rclass, char *buf, size_t len);
/* "NOERROR" ... "NOTZONE", "BADVERS", else "RCODE%u". */
int	 dns_rcode_name(unsigned int rcode, char *buf, size_t len);

/* --- reverse names ------------------------------------------------------------------- */

/* Parses "4.3.2.1.in-addr.arpa" or a nibble ip6.arpa name (case-insensitive) into *family
 * (AF_INET or AF_INET6) and addr (4 or 16 bytes used). *parts is how many octets (0..4) or
 * nibbles (0..32) were present; the missing ones are zero ("10.in-addr.arpa" is 10.0.0.0 with
 * parts 1), as dnsmasq reads partial names. Octets are 1-3 decimal digits <= 255, nibbles one
 * hex digit. DNS_E_SYNTAX for anything else. */
int	 dns_reverse_name_to_addr(const struct dns_name *name, int *family, uint8_t addr[16],
	    unsigned int *parts);
/* Builds the reverse name of the first parts octets (AF_INET, 0..4) or nibbles (AF_INET6,
 * 0..32) of addr: 4 or 32 for a host, fewer for a zone (10.0.0.0/8, parts 1: "10.in-addr.arpa"). */
int	 dns_addr_to_reverse_name(int family, const uint8_t *addr, unsigned int parts,
	    struct dns_name *name);

#endif
