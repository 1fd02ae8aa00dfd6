/* dns: DNS message parsing and building (RFC 1035, 3597, 6891, 8914; RFC 9267 checks). */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dns.h"
#include "util.h"

/*
 * RDATA layouts of the types whose RDATA holds domain names, plus A and AAAA (RFC 3597 section 4
 * lists which names may be compressed). One character per field:
 *   N  name, compressed on input and output (RFC 1035 types)
 *   D  name, decompressed on input, written uncompressed (RFC 3597 section 4, RFC 2782)
 *   2, 4, G  fixed fields of 2, 4 and 16 bytes
 *   C  character-string (a length byte and that many bytes)
 */
struct rdata_layout {
	uint16_t	 type;
	bool		 in_only;	/* class-specific: the layout holds for class IN only */
	const char	*fields;
};

static const struct rdata_layout rdata_layouts[] = {
	{ DNS_T_A, true, "4" },
	{ DNS_T_NS, false, "N" },
	{ DNS_T_MD, false, "N" },
	{ DNS_T_MF, false, "N" },
	{ DNS_T_CNAME, false, "N" },
	{ DNS_T_SOA, false, "NN44444" },
	{ DNS_T_MB, false, "N" },
	{ DNS_T_MG, false, "N" },
	{ DNS_T_MR, false, "N" },
	{ DNS_T_PTR, false, "N" },
	{ DNS_T_MINFO, false, "NN" },
	{ DNS_T_MX, false, "2N" },
	{ DNS_T_RP, false, "DD" },
	{ DNS_T_AFSDB, false, "2D" },
	{ DNS_T_RT, false, "2D" },
	{ DNS_T_PX, false, "2DD" },
	{ DNS_T_AAAA, true, "G" },
	{ DNS_T_SRV, false, "222D" },
	{ DNS_T_NAPTR, false, "22CCCD" },
};

struct dns_code_name {
	unsigned int	 code;
	const char	*name;
};

static const struct dns_code_name type_names[] = {
	{ DNS_T_A, "A" }, { DNS_T_NS, "NS" }, { DNS_T_MD, "MD" }, { DNS_T_MF, "MF" },
	{ DNS_T_CNAME, "CNAME" }, { DNS_T_SOA, "SOA" }, { DNS_T_MB, "MB" }, { DNS_T_MG, "MG" },
	{ DNS_T_MR, "MR" }, { DNS_T_NULL, "NULL" }, { DNS_T_WKS, "WKS" }, { DNS_T_PTR, "PTR" },
	{ DNS_T_HINFO, "HINFO" }, { DNS_T_MINFO, "MINFO" }, { DNS_T_MX, "MX" },
	{ DNS_T_TXT, "TXT" }, { DNS_T_RP, "RP" }, { DNS_T_AFSDB, "AFSDB" }, { DNS_T_RT, "RT" },
	{ DNS_T_SIG, "SIG" }, { DNS_T_KEY, "KEY" }, { DNS_T_PX, "PX" }, { DNS_T_AAAA, "AAAA" },
	{ DNS_T_LOC, "LOC" }, { DNS_T_SRV, "SRV" }, { DNS_T_NAPTR, "NAPTR" }, { DNS_T_KX, "KX" },
	{ DNS_T_CERT, "CERT" }, { DNS_T_DNAME, "DNAME" }, { DNS_T_OPT, "OPT" },
	{ DNS_T_DS, "DS" }, { DNS_T_SSHFP, "SSHFP" }, { DNS_T_RRSIG, "RRSIG" },
	{ DNS_T_NSEC, "NSEC" }, { DNS_T_DNSKEY, "DNSKEY" }, { DNS_T_NSEC3, "NSEC3" },
	{ DNS_T_NSEC3PARAM, "NSEC3PARAM" }, { DNS_T_TLSA, "TLSA" }, { DNS_T_SVCB, "SVCB" },
	{ DNS_T_HTTPS, "HTTPS" }, { DNS_T_SPF, "SPF" }, { DNS_T_TKEY, "TKEY" },
	{ DNS_T_TSIG, "TSIG" }, { DNS_T_IXFR, "IXFR" }, { DNS_T_AXFR, "AXFR" },
	{ DNS_T_ANY, "ANY" }, { DNS_T_URI, "URI" }, { DNS_T_CAA, "CAA" },
};

static const struct dns_code_name class_names[] = {
	{ DNS_C_IN, "IN" }, { DNS_C_CH, "CH" }, { DNS_C_HS, "HS" }, { DNS_C_NONE, "NONE" },
	{ DNS_C_ANY, "ANY" },
};

static const struct dns_code_name rcode_names[] = {
	{ DNS_R_NOERROR, "NOERROR" }, { DNS_R_FORMERR, "FORMERR" },
	{ DNS_R_SERVFAIL, "SERVFAIL" }, { DNS_R_NXDOMAIN, "NXDOMAIN" },
	{ DNS_R_NOTIMP, "NOTIMP" }, { DNS_R_REFUSED, "REFUSED" },
	{ DNS_R_YXDOMAIN, "YXDOMAIN" }, { DNS_R_YXRRSET, "YXRRSET" },
	{ DNS_R_NXRRSET, "NXRRSET" }, { DNS_R_NOTAUTH, "NOTAUTH" },
	{ DNS_R_NOTZONE, "NOTZONE" }, { DNS_R_BADVERS, "BADVERS" },
};

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)((unsigned int)p[0] << 8 | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* True if n bytes starting at pos lie within a buffer of len bytes (no overflow possible). */
static bool
fits(size_t len, size_t pos, size_t n)
{
	return pos <= len && n <= len - pos;
}

static uint8_t
ascii_lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + ('a' - 'A')) : c;
}

/* ASCII case-insensitive comparison of n bytes. */
static bool
case_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ascii_lower(a[i]) != ascii_lower(b[i]))
			return false;
	return true;
}

/* True if s equals the NUL-terminated word w, ignoring ASCII case. */
static bool
text_case_equal(const char *s, const char *w)
{
	size_t n = strlen(w);

	return strlen(s) == n && case_equal((const uint8_t *)s, (const uint8_t *)w, n);
}

/* A fixed description of each DNS_E_* code. */
const char *
dns_strerror(int err)
{
	switch (err) {
	case DNS_OK:
		return "success";
	case DNS_E_HEADER:
		return "message shorter than the DNS header";
	case DNS_E_QUESTION:
		return "malformed question section";
	case DNS_E_RR:
		return "malformed resource record or section count";
	case DNS_E_OPT:
		return "malformed or misplaced OPT record";
	case DNS_E_TRUNCATED:
		return "data runs past the end of the message";
	case DNS_E_POINTER:
		return "bad compression pointer";
	case DNS_E_LABEL:
		return "bad label type or label longer than 63 bytes";
	case DNS_E_NAMELEN:
		return "name longer than 255 bytes";
	case DNS_E_RDATA:
		return "malformed record data";
	case DNS_E_SPACE:
		return "no space left in the output";
	case DNS_E_SYNTAX:
		return "syntax error";
	case DNS_E_INVAL:
		return "invalid argument";
	default:
		return "unknown DNS error";
	}
}

/* --- names ------------------------------------------------------------------------------ */

/*
 * Reads a name at *pos; with allow_ptr false, compression pointers are refused. A pointer must
 * aim strictly before the labels that hold it, and everything read from its target on must lie
 * before them too: an encoder only points at names it wrote earlier. So every jump goes down,
 * loops cannot happen, and nothing after the name (or after the message's last record) is used.
 */
static int
name_read(const uint8_t *msg, size_t msglen, size_t *pos, struct dns_name *name,
    bool allow_ptr)
{
	size_t p = *pos, run = *pos, limit = msglen, after = 0, n = 0;
	unsigned int jumps = 0;
	int ret;

	name->len = 0;
	for (;;) {
		uint8_t c;

		if (p >= limit) {
			ret = jumps > 0 ? DNS_E_POINTER : DNS_E_TRUNCATED;
			goto out;
		}
		c = msg[p];
		if ((c & 0xc0) == 0xc0) {
			size_t target;

			if (p + 1 >= limit) {
				ret = jumps > 0 ? DNS_E_POINTER : DNS_E_TRUNCATED;
				goto out;
			}
			target = (size_t)(c & 0x3f) << 8 | msg[p + 1];
			if (!allow_ptr || target < DNS_HEADER_LEN || target >= run ||
			    jumps >= DNS_MAXPTRS) {
				ret = DNS_E_POINTER;
				goto out;
			}
			if (jumps++ == 0)
				after = p + 2;
			limit = run;
			p = run = target;
			continue;
		}
		if ((c & 0xc0) != 0) {
			ret = DNS_E_LABEL;	/* 0x40 extended, 0x80 reserved */
			goto out;
		}
		if (c == 0) {
			name->wire[n++] = 0;
			p++;
			break;
		}
		if (!fits(limit, p + 1, c)) {
			ret = jumps > 0 ? DNS_E_POINTER : DNS_E_TRUNCATED;
			goto out;
		}
		/* This label plus the root label must still fit in 255 bytes. */
		if (n + 1 + c + 1 > DNS_MAXNAME) {
			ret = DNS_E_NAMELEN;
			goto out;
		}
		memcpy(name->wire + n, msg + p, (size_t)c + 1);
		n += (size_t)c + 1;
		p += (size_t)c + 1;
	}
	name->len = (uint8_t)n;
	*pos = jumps > 0 ? after : p;
	ret = DNS_OK;
out:
	if (ret != DNS_OK)
		name->len = 0;
	return ret;
}

/* Decompresses the name at *pos of a message (see name_read for the pointer rules). */
int
dns_name_read(const uint8_t *msg, size_t msglen, size_t *pos, struct dns_name *name)
{
	if (msg == NULL || pos == NULL || name == NULL)
		return DNS_E_INVAL;
	return name_read(msg, msglen, pos, name, true);
}

/* True if name holds well-formed labels ending exactly at its root label. */
static bool
name_valid(const struct dns_name *name)
{
	size_t i = 0;

	if (name == NULL)
		return false;
	while (i < name->len) {
		uint8_t c = name->wire[i];

		if (c == 0)
			return i + 1 == name->len;
		if (c > DNS_MAXLABEL)
			return false;
		i += (size_t)c + 1;
	}
	return false;
}

/* Offset in name->wire of label idx (idx == number of labels gives the root's offset). */
static int
label_offset(const struct dns_name *name, size_t idx, size_t *off)
{
	size_t i = 0;

	for (size_t k = 0; k < idx; k++) {
		if (name->wire[i] == 0)
			return DNS_E_INVAL;
		i += (size_t)name->wire[i] + 1;
	}
	*off = i;
	return DNS_OK;
}

/* Presentation form to wire form: labels split on unescaped dots, \DDD and \X escapes. */
int
dns_name_from_text(const char *text, struct dns_name *name)
{
	const char *s = text;
	size_t n, lab;
	int ret;

	if (name == NULL)
		return DNS_E_INVAL;
	name->len = 0;
	if (text == NULL || *s == '\0') {
		ret = DNS_E_SYNTAX;
		goto out;
	}
	if (s[0] == '.' && s[1] == '\0') {
		name->wire[0] = 0;
		name->len = 1;
		ret = DNS_OK;
		goto out;
	}
	lab = 0;
	n = 1;
	for (;;) {
		unsigned int v;

		if (*s == '\0' || *s == '.') {
			if (n - lab - 1 == 0) {
				ret = DNS_E_SYNTAX;	/* empty label */
				goto out;
			}
			name->wire[lab] = (uint8_t)(n - lab - 1);
			if (*s == '\0' || *++s == '\0')
				break;
			if (n >= DNS_MAXNAME - 1) {
				ret = DNS_E_NAMELEN;
				goto out;
			}
			lab = n++;
			continue;
		}
		if (*s == '\\') {
			s++;
			if (s[0] >= '0' && s[0] <= '9') {
				if (!(s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9')) {
					ret = DNS_E_SYNTAX;
					goto out;
				}
				v = (unsigned int)(s[0] - '0') * 100 + (unsigned int)(s[1] - '0') * 10 +
				    (unsigned int)(s[2] - '0');
				if (v > 255) {
					ret = DNS_E_SYNTAX;
					goto out;
				}
				s += 3;
			} else if (*s == '\0') {
				ret = DNS_E_SYNTAX;
				goto out;
			} else
				v = (unsigned char)*s++;
		} else
			v = (unsigned char)*s++;
		if (n - lab - 1 >= DNS_MAXLABEL) {
			ret = DNS_E_LABEL;
			goto out;
		}
		if (n >= DNS_MAXNAME - 1) {
			ret = DNS_E_NAMELEN;
			goto out;
		}
		name->wire[n++] = (uint8_t)v;
	}
	name->wire[n++] = 0;
	name->len = (uint8_t)n;
	ret = DNS_OK;
out:
	if (ret != DNS_OK)
		name->len = 0;
	return ret;
}

/* Characters dig escapes with a backslash (BIND's name to text conversion). */
static bool
needs_backslash(uint8_t c)
{
	switch (c) {
	case '"':
	case '$':
	case '(':
	case ')':
	case '.':
	case ';':
	case '@':
	case '\\':
		return true;
	default:
		return false;
	}
}

/* Wire form to presentation form, escaping as dig does. */
int
dns_name_to_text(const struct dns_name *name, char *buf, size_t len)
{
	size_t i = 0, o = 0;
	int ret;

	if (buf == NULL || len == 0)
		return DNS_E_SPACE;
	buf[0] = '\0';
	if (!name_valid(name)) {
		ret = DNS_E_INVAL;
		goto out;
	}
	if (name->len == 1) {
		if (len < 2) {
			ret = DNS_E_SPACE;
			goto out;
		}
		buf[o++] = '.';
	}
	while (name->wire[i] != 0) {
		size_t end = i + 1 + name->wire[i];

		if (i != 0) {
			if (o + 1 >= len) {
				ret = DNS_E_SPACE;
				goto out;
			}
			buf[o++] = '.';
		}
		for (i++; i < end; i++) {
			uint8_t c = name->wire[i];

			if (needs_backslash(c)) {
				if (o + 2 >= len) {
					ret = DNS_E_SPACE;
					goto out;
				}
				buf[o++] = '\\';
				buf[o++] = (char)c;
			} else if (c > 0x20 && c < 0x7f) {
				if (o + 1 >= len) {
					ret = DNS_E_SPACE;
					goto out;
				}
				buf[o++] = (char)c;
			} else {
				if (o + 4 >= len) {
					ret = DNS_E_SPACE;
					goto out;
				}
				buf[o++] = '\\';
				buf[o++] = (char)('0' + c / 100);
				buf[o++] = (char)('0' + c / 10 % 10);
				buf[o++] = (char)('0' + c % 10);
			}
		}
	}
	buf[o] = '\0';
	ret = (int)o;
out:
	if (ret < 0)
		buf[0] = '\0';
	return ret;
}

/* Equality ignoring ASCII case. */
bool
dns_name_equal(const struct dns_name *a, const struct dns_name *b)
{
	/* Label lengths are at most 63, below 'A', so lowering the whole wire form is safe. */
	return a != NULL && b != NULL && a->len == b->len && case_equal(a->wire, b->wire, a->len);
}

void
dns_name_lower(struct dns_name *name)
{
	if (name == NULL)
		return;
	for (size_t i = 0; i < name->len; i++)
		name->wire[i] = ascii_lower(name->wire[i]);
}

/* Counts the labels, the root not included. */
int
dns_name_labels(const struct dns_name *name)
{
	int n = 0;

	if (!name_valid(name))
		return -1;
	for (size_t i = 0; name->wire[i] != 0; i += (size_t)name->wire[i] + 1)
		n++;
	return n;
}

/* Whole-label suffix match: skip the extra leftmost labels of name, compare the rest. */
bool
dns_name_is_subdomain(const struct dns_name *name, const struct dns_name *zone)
{
	int nl = dns_name_labels(name), zl = dns_name_labels(zone);
	size_t off;

	if (nl < 0 || zl < 0 || nl < zl)
		return false;
	if (label_offset(name, (size_t)(nl - zl), &off) != DNS_OK)
		return false;
	return name->len - off == zone->len && case_equal(name->wire + off, zone->wire, zone->len);
}

/* Finds label idx counting from the left. */
int
dns_name_label(const struct dns_name *name, size_t idx, const uint8_t **label, size_t *labellen)
{
	int n = dns_name_labels(name);
	size_t off;

	if (n < 0 || idx >= (size_t)n || label == NULL || labellen == NULL)
		return DNS_E_INVAL;
	if (label_offset(name, idx, &off) != DNS_OK)
		return DNS_E_INVAL;
	*label = name->wire + off + 1;
	*labellen = name->wire[off];
	return DNS_OK;
}

/* Drops leftmost labels in place. */
int
dns_name_strip(struct dns_name *name, size_t n)
{
	int labels = dns_name_labels(name);
	size_t off;

	if (labels < 0 || n > (size_t)labels)
		return DNS_E_INVAL;
	if (label_offset(name, n, &off) != DNS_OK)
		return DNS_E_INVAL;
	memmove(name->wire, name->wire + off, name->len - off);
	name->len = (uint8_t)(name->len - off);
	return DNS_OK;
}

/* Joins prefix labels and a suffix name, through a copy so out may alias. */
int
dns_name_concat(const struct dns_name *prefix, const struct dns_name *suffix,
    struct dns_name *out)
{
	struct dns_name tmp;
	size_t plen;

	if (!name_valid(prefix) || !name_valid(suffix) || out == NULL)
		return DNS_E_INVAL;
	plen = (size_t)prefix->len - 1;
	if (plen + suffix->len > DNS_MAXNAME)
		return DNS_E_NAMELEN;
	memcpy(tmp.wire, prefix->wire, plen);
	memcpy(tmp.wire + plen, suffix->wire, suffix->len);
	tmp.len = (uint8_t)(plen + suffix->len);
	*out = tmp;
	return DNS_OK;
}

/* --- parsing ---------------------------------------------------------------------------- */

/* Fills the header fields of msg; DNS_E_HEADER if buf is shorter than a header. */
static int
parse_header(const uint8_t *buf, size_t len, struct dns_msg *msg)
{
	memset(msg, 0, sizeof(*msg));
	if (buf == NULL || len < DNS_HEADER_LEN) {
		msg->cause = DNS_E_TRUNCATED;
		return DNS_E_HEADER;
	}
	msg->id = get16(buf);
	msg->flags = get16(buf + 2);
	for (int s = 0; s < DNS_NSECTIONS; s++)
		msg->count[s] = get16(buf + 4 + 2 * s);
	msg->sec_off[DNS_SEC_QUESTION] = DNS_HEADER_LEN;
	return DNS_OK;
}

/* Reads n questions from *pos, keeping the first in msg->q. */
static int
parse_questions(const uint8_t *buf, size_t len, struct dns_msg *msg, unsigned int n,
    size_t *pos)
{
	struct dns_name name;
	int ret;

	for (unsigned int i = 0; i < n; i++) {
		size_t start = *pos;

		if ((ret = name_read(buf, len, pos, &name, true)) != DNS_OK) {
			msg->cause = ret;
			return DNS_E_QUESTION;
		}
		if (!fits(len, *pos, 4)) {
			msg->cause = DNS_E_TRUNCATED;
			return DNS_E_QUESTION;
		}
		if (i == 0) {
			msg->has_question = true;
			msg->q.name = name;
			msg->q.qtype = get16(buf + *pos);
			msg->q.qclass = get16(buf + *pos + 2);
			msg->q.offset = start;
			msg->q.len = *pos + 4 - start;
		}
		*pos += 4;
	}
	return DNS_OK;
}

/* Reads the RR at *pos (owner, fixed fields, RDATA bounds); on error *cause gets the detail. */
static int
rr_read(const uint8_t *buf, size_t len, size_t *pos, struct dns_rr *rr, int *cause)
{
	size_t p = *pos;
	int ret;

	memset(rr, 0, sizeof(*rr));
	rr->offset = p;
	if ((ret = name_read(buf, len, &p, &rr->name, true)) != DNS_OK) {
		*cause = ret;
		return DNS_E_RR;
	}
	if (!fits(len, p, 10)) {
		*cause = DNS_E_TRUNCATED;
		return DNS_E_RR;
	}
	rr->type = get16(buf + p);
	rr->rclass = get16(buf + p + 2);
	rr->ttl_offset = p + 4;
	rr->ttl = get32(buf + p + 4);
	rr->rdlength = get16(buf + p + 8);
	rr->rdata_offset = p + 10;
	if (!fits(len, rr->rdata_offset, rr->rdlength)) {
		*cause = DNS_E_TRUNCATED;
		return DNS_E_RR;
	}
	rr->rdata = buf + rr->rdata_offset;
	rr->end = rr->rdata_offset + rr->rdlength;
	*pos = rr->end;
	return DNS_OK;
}

/* Checks an OPT RR found in section sec and records it in msg->edns (RFC 6891 section 6.1.1). */
static int
parse_opt(const uint8_t *buf, const struct dns_rr *rr, enum dns_section sec, struct dns_msg *msg)
{
	size_t p = 0;
	uint16_t code, dlen;
	const uint8_t *data;
	int ret;

	if (sec != DNS_SEC_ADDITIONAL || msg->edns.present || rr->name.len != 1) {
		msg->cause = DNS_E_OPT;
		return DNS_E_OPT;
	}
	while ((ret = dns_opt_next(buf + rr->rdata_offset, rr->rdlength, &p, &code, &data,
	    &dlen)) == 1)
		;
	if (ret < 0) {
		msg->cause = DNS_E_TRUNCATED;
		return DNS_E_OPT;
	}
	msg->edns.present = true;
	msg->edns.udp_size = rr->rclass;
	msg->edns.ext_rcode = (uint8_t)(rr->ttl >> 24);
	msg->edns.version = (uint8_t)(rr->ttl >> 16);
	msg->edns.flags = (uint16_t)rr->ttl;
	msg->edns.offset = rr->offset;
	msg->edns.len = rr->end - rr->offset;
	msg->edns.opt_offset = rr->rdata_offset;
	msg->edns.opt_len = rr->rdlength;
	return DNS_OK;
}

/* Walks and checks the whole message, recording where each part is. */
int
dns_parse(const uint8_t *buf, size_t len, struct dns_msg *msg)
{
	struct dns_rr rr;
	size_t pos = DNS_HEADER_LEN;
	int ret;

	if (msg == NULL)
		return DNS_E_INVAL;
	if ((ret = parse_header(buf, len, msg)) != DNS_OK)
		goto out;
	if ((ret = parse_questions(buf, len, msg, msg->count[DNS_SEC_QUESTION], &pos)) != DNS_OK)
		goto out;
	for (int s = DNS_SEC_ANSWER; s < DNS_NSECTIONS; s++) {
		msg->sec_off[s] = pos;
		for (unsigned int i = 0; i < msg->count[s]; i++) {
			if ((ret = rr_read(buf, len, &pos, &rr, &msg->cause)) != DNS_OK)
				goto out;
			if (rr.type == DNS_T_OPT &&
			    (ret = parse_opt(buf, &rr, (enum dns_section)s, msg)) != DNS_OK)
				goto out;
		}
	}
	msg->end = pos;
	msg->trailing = len - pos;
	msg->walked = true;
	ret = DNS_OK;
out:
	return ret;
}

/* Header and first question, nothing else. */
int
dns_parse_question_only(const uint8_t *buf, size_t len, struct dns_msg *msg)
{
	size_t pos = DNS_HEADER_LEN;
	int ret;

	if (msg == NULL)
		return DNS_E_INVAL;
	if ((ret = parse_header(buf, len, msg)) != DNS_OK)
		return ret;
	return parse_questions(buf, len, msg, msg->count[DNS_SEC_QUESTION] > 0 ? 1 : 0, &pos);
}

/* Header rcode plus the OPT extension bits. */
unsigned int
dns_msg_rcode(const struct dns_msg *msg)
{
	unsigned int rcode = DNS_RCODE(msg->flags);

	if (msg->edns.present)
		rcode |= (unsigned int)msg->edns.ext_rcode << 4;
	return rcode;
}

/* Reads the RR at *pos and works out its section from the offsets dns_parse recorded. */
int
dns_rr_next(const struct dns_msg *msg, const uint8_t *buf, size_t len, size_t *pos,
    struct dns_rr *rr)
{
	int cause;

	if (msg == NULL || buf == NULL || pos == NULL || rr == NULL || !msg->walked ||
	    len < msg->end || *pos < msg->sec_off[DNS_SEC_ANSWER])
		return DNS_E_INVAL;
	if (*pos >= msg->end)
		return 0;
	if (rr_read(buf, msg->end, pos, rr, &cause) != DNS_OK)
		return cause;
	rr->section = DNS_SEC_ANSWER;
	for (int s = DNS_SEC_ADDITIONAL; s > DNS_SEC_ANSWER; s--) {
		if (msg->count[s] > 0 && msg->sec_off[s] <= rr->offset) {
			rr->section = (enum dns_section)s;
			break;
		}
	}
	return 1;
}

/* One EDNS option: code, length, data, all inside opts. */
int
dns_opt_next(const uint8_t *opts, size_t optlen, size_t *pos, uint16_t *code,
    const uint8_t **data, uint16_t *datalen)
{
	size_t p;
	uint16_t n;

	if (pos == NULL || code == NULL || data == NULL || datalen == NULL)
		return DNS_E_INVAL;
	p = *pos;
	if (p == optlen)
		return 0;
	if (opts == NULL || !fits(optlen, p, 4))
		return DNS_E_OPT;
	n = get16(opts + p + 2);
	if (!fits(optlen, p + 4, n))
		return DNS_E_OPT;
	*code = get16(opts + p);
	*datalen = n;
	*data = opts + p + 4;
	*pos = p + 4 + n;
	return 1;
}

/* The RDATA layout of type in class rclass, or NULL to treat the RDATA as opaque. */
static const char *
rdata_layout(uint16_t type, uint16_t rclass)
{
	for (size_t i = 0; i < nitems(rdata_layouts); i++)
		if (rdata_layouts[i].type == type)
			return rdata_layouts[i].in_only && rclass != DNS_C_IN ? NULL :
			    rdata_layouts[i].fields;
	return NULL;
}

/* Appends n bytes to out (if not NULL) at *o; DNS_E_SPACE past outcap. */
static int
emit(uint8_t *out, size_t outcap, size_t *o, const uint8_t *src, size_t n)
{
	if (out != NULL) {
		if (!fits(outcap, *o, n))
			return DNS_E_SPACE;
		memcpy(out + *o, src, n);
	}
	*o += n;
	return DNS_OK;
}

/* Size of a fixed field character of an RDATA layout (0 for names and strings). */
static size_t
field_size(char f)
{
	switch (f) {
	case '2':
		return 2;
	case '4':
		return 4;
	case 'G':
		return 16;
	default:
		return 0;
	}
}

/* Copies RDATA, decompressing the names of the types that have them. */
int
dns_rdata_expand(const uint8_t *buf, size_t len, const struct dns_rr *rr, uint8_t *out,
    size_t outcap, size_t *outlen)
{
	struct dns_name name;
	const char *fields;
	size_t p, end, o = 0;
	int ret;

	if (buf == NULL || rr == NULL || outlen == NULL || (out == NULL && outcap != 0))
		return DNS_E_INVAL;
	*outlen = 0;
	p = rr->rdata_offset;
	if (p < DNS_HEADER_LEN)
		return DNS_E_INVAL;
	if (!fits(len, p, rr->rdlength))
		return DNS_E_TRUNCATED;
	end = p + rr->rdlength;
	if ((fields = rdata_layout(rr->type, rr->rclass)) == NULL) {
		if ((ret = emit(out, outcap, &o, buf + p, rr->rdlength)) != DNS_OK)
			return ret;
		*outlen = o;
		return DNS_OK;
	}
	for (const char *f = fields; *f != '\0'; f++) {
		size_t n = field_size(*f);

		if (*f == 'N' || *f == 'D') {
			/* Bounded by the RDATA: the name as written must end inside it. */
			if ((ret = name_read(buf, end, &p, &name, true)) != DNS_OK)
				return ret == DNS_E_TRUNCATED ? DNS_E_RDATA : ret;
			if ((ret = emit(out, outcap, &o, name.wire, name.len)) != DNS_OK)
				return ret;
			continue;
		}
		if (*f == 'C') {
			if (p >= end)
				return DNS_E_RDATA;
			n = (size_t)buf[p] + 1;
		}
		if (!fits(end, p, n))
			return DNS_E_RDATA;
		if ((ret = emit(out, outcap, &o, buf + p, n)) != DNS_OK)
			return ret;
		p += n;
	}
	if (p != end)
		return DNS_E_RDATA;
	*outlen = o;
	return DNS_OK;
}

/* Parses SOA RDATA: two names and exactly 20 bytes of counters. */
int
dns_soa_read(const uint8_t *buf, size_t len, size_t rdoff, size_t rdlen, struct dns_soa *soa)
{
	size_t p = rdoff, end;
	int ret;

	if (buf == NULL || soa == NULL)
		return DNS_E_INVAL;
	memset(soa, 0, sizeof(*soa));
	if (!fits(len, rdoff, rdlen))
		return DNS_E_TRUNCATED;
	end = rdoff + rdlen;
	if ((ret = name_read(buf, end, &p, &soa->mname, true)) != DNS_OK ||
	    (ret = name_read(buf, end, &p, &soa->rname, true)) != DNS_OK)
		return ret == DNS_E_TRUNCATED ? DNS_E_RDATA : ret;
	if (end - p != 20)
		return DNS_E_RDATA;
	soa->serial = get32(buf + p);
	soa->refresh = get32(buf + p + 4);
	soa->retry = get32(buf + p + 8);
	soa->expire = get32(buf + p + 12);
	soa->minimum = get32(buf + p + 16);
	return DNS_OK;
}

uint32_t
dns_soa_negative_ttl(uint32_t soa_rr_ttl, const struct dns_soa *soa)
{
	return soa_rr_ttl < soa->minimum ? soa_rr_ttl : soa->minimum;
}

/* --- building --------------------------------------------------------------------------- */

/* Writes the header and resets the builder. */
int
dns_builder_init(struct dns_builder *b, uint8_t *buf, size_t size, uint16_t id, uint16_t flags)
{
	if (b == NULL)
		return DNS_E_INVAL;
	/* The labels recorded (comp[]) are read only below ncomp. */
	memset(b, 0, offsetof(struct dns_builder, comp));
	if (buf == NULL || size < DNS_HEADER_LEN)
		return DNS_E_SPACE;
	b->buf = buf;
	b->size = size > DNS_MAXMSG ? DNS_MAXMSG : size;
	put16(buf, id);
	put16(buf + 2, flags);
	memset(buf + 4, 0, DNS_HEADER_LEN - 4);
	b->len = b->qend = DNS_HEADER_LEN;
	b->section = DNS_SEC_QUESTION;
	b->comp_root = -1;
	b->comp_qname = -1;
	return DNS_OK;
}

/* Keeps room at the end for the OPT RR. */
int
dns_builder_reserve(struct dns_builder *b, size_t n)
{
	if (b == NULL || b->buf == NULL)
		return DNS_E_INVAL;
	if (n > b->size - b->len)
		return DNS_E_SPACE;
	b->reserve = n;
	return DNS_OK;
}

/* The child of trie node parent (-1: the root) whose label equals label, or -1 (also once
 * the message has used up its comparison budget). */
static int
comp_child(struct dns_builder *b, int parent, const uint8_t *label)
{
	int c = parent < 0 ? b->comp_root : b->comp[parent].child;

	for (; c >= 0; c = b->comp[c].sibling) {
		const uint8_t *l = b->buf + b->comp[c].off;

		if (b->comp_work >= DNS_COMPRESS_WORK)
			return -1;
		if (l[0] != label[0])
			continue;
		b->comp_work += label[0];
		if (case_equal(l + 1, label + 1, label[0]))
			return c;
	}
	return -1;
}

/* Records the label written at off as a child of parent; returns its index. */
static int
comp_add(struct dns_builder *b, int parent, size_t off)
{
	int e = (int)b->ncomp++;
	int8_t *head = parent < 0 ? &b->comp_root : &b->comp[parent].child;

	b->comp[e].off = (uint16_t)off;
	b->comp[e].parent = (int8_t)parent;
	b->comp[e].child = -1;
	b->comp[e].sibling = *head;
	*head = (int8_t)e;
	return e;
}

/* Forgets the most recently recorded label (always the head of its parent's list). */
static void
comp_pop(struct dns_builder *b)
{
	struct dns_comp *e = &b->comp[--b->ncomp];

	if (b->comp_qname == (int8_t)b->ncomp)
		b->comp_qname = -1;

	if (e->parent < 0)
		b->comp_root = e->sibling;
	else
		b->comp[e->parent].child = e->sibling;
}

/* Writes name at b->len within limit, its longest known suffix as a pointer if compress, and
 * records the labels written in full. */
static int
write_name(struct dns_builder *b, const struct dns_name *name, bool compress, size_t limit)
{
	size_t starts[DNS_MAXNAME / 2 + 1], nl = 0, keep, off, need;
	int cur = -1, c;

	/* The common case, a name equal to the question's (byte for byte): a pointer to it,
	 * which is also what the walk below finds. Its bytes count against the same budget. */
	if (compress && b->comp_qname >= 0 && b->count[DNS_SEC_QUESTION] > 0 && name->len > 1 &&
	    b->len >= DNS_HEADER_LEN + (size_t)name->len &&
	    b->comp_work + name->len <= DNS_COMPRESS_WORK &&
	    memcmp(b->buf + DNS_HEADER_LEN, name->wire, name->len) == 0) {
		if (!fits(limit, b->len, 2))
			return DNS_E_SPACE;
		b->comp_work += name->len;
		put16(b->buf + b->len, (uint16_t)(0xc000 | DNS_HEADER_LEN));
		b->len += 2;
		return DNS_OK;
	}
	for (size_t i = 0; name->wire[i] != 0; i += (size_t)name->wire[i] + 1)
		starts[nl++] = i;
	keep = nl;
	while (compress && keep > 0 && (c = comp_child(b, cur, name->wire + starts[keep - 1])) >= 0) {
		cur = c;
		keep--;
	}
	off = keep < nl ? starts[keep] : (size_t)name->len - 1;
	need = off + (cur >= 0 ? 2 : 1);
	if (!fits(limit, b->len, need))
		return DNS_E_SPACE;
	memcpy(b->buf + b->len, name->wire, off);
	if (cur >= 0)
		put16(b->buf + b->len + off, (uint16_t)(0xc000 | b->comp[cur].off));
	else
		b->buf[b->len + off] = 0;
	/* Rightmost first, so that every recorded label's parent is recorded too. */
	for (size_t i = keep; i-- > 0;) {
		if (b->len + starts[i] >= 0x4000 || b->ncomp >= DNS_COMPRESS_MAX)
			break;
		cur = comp_add(b, cur, b->len + starts[i]);
		if (b->len + starts[i] == DNS_HEADER_LEN)
			b->comp_qname = (int8_t)cur;
	}
	b->len += need;
	return DNS_OK;
}

/* Appends n raw bytes within limit. */
static int
write_bytes(struct dns_builder *b, const void *src, size_t n, size_t limit)
{
	if (!fits(limit, b->len, n))
		return DNS_E_SPACE;
	if (n > 0)
		memcpy(b->buf + b->len, src, n);
	b->len += n;
	return DNS_OK;
}

/* Writes self-contained RDATA of the given layout, compressing 'N' names. */
static int
write_rdata(struct dns_builder *b, const char *fields, const uint8_t *rdata, size_t rdlen,
    size_t limit)
{
	struct dns_name name;
	size_t p = 0;
	int ret;

	for (const char *f = fields; *f != '\0'; f++) {
		size_t n = field_size(*f);

		if (*f == 'N' || *f == 'D') {
			if (name_read(rdata, rdlen, &p, &name, false) != DNS_OK)
				return DNS_E_RDATA;
			if ((ret = write_name(b, &name, *f == 'N', limit)) != DNS_OK)
				return ret;
			continue;
		}
		if (*f == 'C') {
			if (p >= rdlen)
				return DNS_E_RDATA;
			n = (size_t)rdata[p] + 1;
		}
		if (!fits(rdlen, p, n))
			return DNS_E_RDATA;
		if ((ret = write_bytes(b, rdata + p, n, limit)) != DNS_OK)
			return ret;
		p += n;
	}
	return p == rdlen ? DNS_OK : DNS_E_RDATA;
}

/* Appends a question; all questions precede the RRs. */
int
dns_build_question(struct dns_builder *b, const struct dns_name *name, uint16_t qtype,
    uint16_t qclass)
{
	size_t len0, ncomp0;
	uint8_t tail[4];
	int ret;

	if (b == NULL || b->buf == NULL || !name_valid(name) || b->section != DNS_SEC_QUESTION ||
	    b->count[DNS_SEC_QUESTION] == UINT16_MAX)
		return DNS_E_INVAL;
	len0 = b->len;
	ncomp0 = b->ncomp;
	put16(tail, qtype);
	put16(tail + 2, qclass);
	if ((ret = write_name(b, name, true, b->size - b->reserve)) != DNS_OK ||
	    (ret = write_bytes(b, tail, 4, b->size - b->reserve)) != DNS_OK)
		goto fail;
	b->count[DNS_SEC_QUESTION]++;
	b->qend = b->len;
	return DNS_OK;
fail:
	b->len = len0;
	while (b->ncomp > ncomp0)
		comp_pop(b);
	b->truncated = true;
	return ret;
}

/* Appends one RR, or nothing at all when it does not fit. */
int
dns_build_rr(struct dns_builder *b, enum dns_section sec, const struct dns_name *owner,
    uint16_t type, uint16_t rclass, uint32_t ttl, const uint8_t *rdata, size_t rdlen)
{
	size_t len0, ncomp0, limit, rdstart;
	const char *fields;
	uint8_t fixed[10];
	int ret;

	if (b == NULL || b->buf == NULL || !name_valid(owner) || sec < DNS_SEC_ANSWER ||
	    sec > DNS_SEC_ADDITIONAL || sec < b->section || type == DNS_T_OPT ||
	    (rdata == NULL && rdlen != 0) || rdlen > UINT16_MAX || b->count[sec] == UINT16_MAX)
		return DNS_E_INVAL;
	len0 = b->len;
	ncomp0 = b->ncomp;
	limit = b->size - b->reserve;
	put16(fixed, type);
	put16(fixed + 2, rclass);
	put32(fixed + 4, ttl);
	put16(fixed + 8, 0);
	if ((ret = write_name(b, owner, true, limit)) != DNS_OK ||
	    (ret = write_bytes(b, fixed, sizeof(fixed), limit)) != DNS_OK)
		goto fail;
	rdstart = b->len;
	if ((fields = rdata_layout(type, rclass)) != NULL)
		ret = write_rdata(b, fields, rdata, rdlen, limit);
	else
		ret = write_bytes(b, rdata, rdlen, limit);
	if (ret != DNS_OK)
		goto fail;
	/* The message is at most 65535 bytes, so the written RDATA length fits 16 bits. */
	put16(b->buf + rdstart - 2, (uint16_t)(b->len - rdstart));
	b->count[sec]++;
	b->section = sec;
	return DNS_OK;
fail:
	b->len = len0;
	while (b->ncomp > ncomp0)
		comp_pop(b);
	if (ret == DNS_E_SPACE)
		b->truncated = true;
	return ret;
}

/* Copies a parsed RR, opaque RDATA straight from the message. */
int
dns_build_rr_copy(struct dns_builder *b, enum dns_section sec, const uint8_t *msg,
    size_t msglen, const struct dns_rr *rr)
{
	uint8_t rd[DNS_EXPAND_MAX];
	size_t n;
	int ret;

	if (msg == NULL || rr == NULL || rr->type == DNS_T_OPT)
		return DNS_E_INVAL;
	if (rdata_layout(rr->type, rr->rclass) == NULL) {
		/* Opaque: copy straight from the message, no intermediate buffer. */
		if (rr->rdata_offset < DNS_HEADER_LEN || !fits(msglen, rr->rdata_offset, rr->rdlength))
			return DNS_E_TRUNCATED;
		return dns_build_rr(b, sec, &rr->name, rr->type, rr->rclass, rr->ttl,
		    msg + rr->rdata_offset, rr->rdlength);
	}
	if ((ret = dns_rdata_expand(msg, msglen, rr, rd, sizeof(rd), &n)) != DNS_OK)
		return ret;
	return dns_build_rr(b, sec, &rr->name, rr->type, rr->rclass, rr->ttl, rd, n);
}

/* Appends the OPT RR once, into the space reserved for it. */
int
dns_build_opt(struct dns_builder *b, uint16_t udp_size, uint8_t ext_rcode, uint8_t version,
    uint16_t flags, const uint8_t *opts, size_t optlen)
{
	size_t p = 0, len0;
	uint16_t code, dlen;
	const uint8_t *data;
	uint8_t fixed[DNS_OPT_FIXED];
	int ret;

	if (b == NULL || b->buf == NULL || b->has_opt || (opts == NULL && optlen != 0) ||
	    optlen > UINT16_MAX || b->count[DNS_SEC_ADDITIONAL] == UINT16_MAX)
		return DNS_E_INVAL;
	/* Only well-formed options, so that the message parses. */
	while ((ret = dns_opt_next(opts, optlen, &p, &code, &data, &dlen)) == 1)
		;
	if (ret < 0)
		return DNS_E_INVAL;
	fixed[0] = 0;
	put16(fixed + 1, DNS_T_OPT);
	put16(fixed + 3, udp_size);
	put32(fixed + 5, (uint32_t)ext_rcode << 24 | (uint32_t)version << 16 | flags);
	put16(fixed + 9, (uint16_t)optlen);
	len0 = b->len;
	if ((ret = write_bytes(b, fixed, sizeof(fixed), b->size)) != DNS_OK ||
	    (ret = write_bytes(b, opts, optlen, b->size)) != DNS_OK) {
		b->len = len0;
		b->truncated = true;
		return ret;
	}
	b->count[DNS_SEC_ADDITIONAL]++;
	b->section = DNS_SEC_ADDITIONAL;
	b->has_opt = true;
	b->reserve = 0;
	return DNS_OK;
}

/* Back to the end of the question section, with TC set. */
void
dns_builder_truncate(struct dns_builder *b)
{
	if (b == NULL || b->buf == NULL)
		return;
	b->len = b->qend;
	/* Names after the question recorded their labels after it, at offsets past it. */
	while (b->ncomp > 0 && b->comp[b->ncomp - 1].off >= b->qend)
		comp_pop(b);
	for (int s = DNS_SEC_ANSWER; s < DNS_NSECTIONS; s++)
		b->count[s] = 0;
	b->has_opt = false;
	b->section = DNS_SEC_QUESTION;
	b->truncated = true;
	b->buf[2] |= (uint8_t)(DNS_F_TC >> 8);
}

/* Puts the section counts into the header. */
size_t
dns_builder_finish(struct dns_builder *b)
{
	if (b == NULL || b->buf == NULL)
		return 0;
	for (int s = 0; s < DNS_NSECTIONS; s++)
		put16(b->buf + 4 + 2 * s, b->count[s]);
	return b->len;
}

/* Appends code, length and data of one EDNS option. */
int
dns_opt_append(uint8_t *buf, size_t cap, size_t *len, uint16_t code, const void *data,
    size_t datalen)
{
	if (buf == NULL || len == NULL || (data == NULL && datalen != 0) || datalen > UINT16_MAX)
		return DNS_E_INVAL;
	if (!fits(cap, *len, 4) || !fits(cap, *len + 4, datalen))
		return DNS_E_SPACE;
	put16(buf + *len, code);
	put16(buf + *len + 2, (uint16_t)datalen);
	if (datalen > 0)
		memcpy(buf + *len + 4, data, datalen);
	*len += 4 + datalen;
	return DNS_OK;
}

/* Appends an Extended DNS Error option: info code then text. */
int
dns_opt_append_ede(uint8_t *buf, size_t cap, size_t *len, uint16_t info_code, const char *text)
{
	size_t tlen = text != NULL ? strlen(text) : 0;

	if (buf == NULL || len == NULL || tlen > UINT16_MAX - 2)
		return DNS_E_INVAL;
	if (!fits(cap, *len, 6) || !fits(cap, *len + 6, tlen))
		return DNS_E_SPACE;
	put16(buf + *len, DNS_OPT_EDE);
	put16(buf + *len + 2, (uint16_t)(2 + tlen));
	put16(buf + *len + 4, info_code);
	if (tlen > 0)
		memcpy(buf + *len + 6, text, tlen);
	*len += 6 + tlen;
	return DNS_OK;
}

/* --- raw buffers ------------------------------------------------------------------------ */

int
dns_get_id(const uint8_t *buf, size_t len, uint16_t *id)
{
	if (buf == NULL || id == NULL || len < DNS_HEADER_LEN)
		return DNS_E_HEADER;
	*id = get16(buf);
	return DNS_OK;
}

int
dns_set_id(uint8_t *buf, size_t len, uint16_t id)
{
	if (buf == NULL || len < DNS_HEADER_LEN)
		return DNS_E_HEADER;
	put16(buf, id);
	return DNS_OK;
}

int
dns_get_flags(const uint8_t *buf, size_t len, uint16_t *flags)
{
	if (buf == NULL || flags == NULL || len < DNS_HEADER_LEN)
		return DNS_E_HEADER;
	*flags = get16(buf + 2);
	return DNS_OK;
}

/* Clears then sets bits of the header flags in place. */
int
dns_set_flags(uint8_t *buf, size_t len, uint16_t set, uint16_t clear)
{
	if (buf == NULL || len < DNS_HEADER_LEN)
		return DNS_E_HEADER;
	put16(buf + 2, (uint16_t)((get16(buf + 2) & ~clear) | set));
	return DNS_OK;
}

/* Rewrites one header count in place. */
int
dns_set_count(uint8_t *buf, size_t len, enum dns_section sec, uint16_t count)
{
	if (buf == NULL || len < DNS_HEADER_LEN)
		return DNS_E_HEADER;
	if (sec < DNS_SEC_QUESTION || sec > DNS_SEC_ADDITIONAL)
		return DNS_E_INVAL;
	put16(buf + 4 + 2 * (size_t)sec, count);
	return DNS_OK;
}

/* Rewrites an RR TTL in place. */
int
dns_rr_set_ttl(uint8_t *buf, size_t len, const struct dns_rr *rr, uint32_t ttl)
{
	if (buf == NULL || rr == NULL || rr->ttl_offset < DNS_HEADER_LEN ||
	    !fits(len, rr->ttl_offset, 4))
		return DNS_E_INVAL;
	put32(buf + rr->ttl_offset, ttl);
	return DNS_OK;
}

/* Rewrites the OPT RR CLASS (the UDP size) in place. */
int
dns_edns_set_udp_size(uint8_t *buf, size_t len, const struct dns_msg *msg, uint16_t size)
{
	if (buf == NULL || msg == NULL || !msg->edns.present ||
	    msg->edns.offset < DNS_HEADER_LEN || !fits(len, msg->edns.offset + 3, 2))
		return DNS_E_INVAL;
	put16(buf + msg->edns.offset + 3, size);
	return DNS_OK;
}

/* --- text ------------------------------------------------------------------------------- */

/* Writes the table's name for code, or prefix followed by the number. */
static int
code_name(const struct dns_code_name *tab, size_t n, unsigned int code, const char *prefix,
    char *buf, size_t len)
{
	if (buf == NULL || len == 0)
		return DNS_E_SPACE;
	for (size_t i = 0; i < n; i++)
		if (tab[i].code == code)
			return util_strlcpy(buf, tab[i].name, len) ? DNS_OK : DNS_E_SPACE;
	return util_snprintf(buf, len, "%s%u", prefix, code) ? DNS_OK : DNS_E_SPACE;
}

/* Type mnemonic, or TYPEnnn. */
int
dns_type_name(uint16_t type, char *buf, size_t len)
{
	return code_name(type_names, nitems(type_names), type, "TYPE", buf, len);
}

/* Type mnemonic or TYPEnnn to a number. */
int
dns_type_from_name(const char *s, uint16_t *type)
{
	unsigned long v = 0;
	size_t i;

	if (s == NULL || type == NULL)
		return DNS_E_INVAL;
	for (i = 0; i < nitems(type_names); i++) {
		if (text_case_equal(s, type_names[i].name)) {
			*type = (uint16_t)type_names[i].code;
			return DNS_OK;
		}
	}
	/* RFC 3597 section 5: TYPEnnn, decimal. */
	if (strlen(s) < 5 || !case_equal((const uint8_t *)s, (const uint8_t *)"TYPE", 4))
		return DNS_E_SYNTAX;
	for (i = 4; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 9)
			return DNS_E_SYNTAX;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > UINT16_MAX)
		return DNS_E_SYNTAX;
	*type = (uint16_t)v;
	return DNS_OK;
}

/* Class mnemonic, or CLASSnnn. */
int
dns_class_name(uint16_t rclass, char *buf, size_t len)
{
	return code_name(class_names, nitems(class_names), rclass, "CLASS", buf, len);
}

/* Rcode mnemonic, or RCODEnnn. */
int
dns_rcode_name(unsigned int rcode, char *buf, size_t len)
{
	return code_name(rcode_names, nitems(rcode_names), rcode, "RCODE", buf, len);
}

/* --- reverse names ---------------------------------------------------------------------- */

/* Value of a one-character hex label, or -1. */
static int
hex_digit(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = ascii_lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Reads the address (or its first parts) out of an in-addr.arpa or ip6.arpa name. */
int
dns_reverse_name_to_addr(const struct dns_name *name, int *family, uint8_t addr[16],
    unsigned int *parts)
{
	const uint8_t *l1, *l2, *lab;
	size_t n1, n2, len;
	unsigned int k;
	int labels = dns_name_labels(name);
	bool v6;

	if (family == NULL || addr == NULL || parts == NULL)
		return DNS_E_INVAL;
	if (labels < 2 || dns_name_label(name, (size_t)labels - 2, &l1, &n1) != DNS_OK ||
	    dns_name_label(name, (size_t)labels - 1, &l2, &n2) != DNS_OK ||
	    n2 != 4 || !case_equal(l2, (const uint8_t *)"arpa", 4))
		return DNS_E_SYNTAX;
	if (n1 == 7 && case_equal(l1, (const uint8_t *)"in-addr", 7))
		v6 = false;
	else if (n1 == 3 && case_equal(l1, (const uint8_t *)"ip6", 3))
		v6 = true;
	else
		return DNS_E_SYNTAX;
	k = (unsigned int)labels - 2;
	if (k > (v6 ? 32u : 4u))
		return DNS_E_SYNTAX;
	memset(addr, 0, 16);
	/* The leftmost label is the least significant part present. */
	for (unsigned int i = 0; i < k; i++) {
		unsigned int j = k - 1 - i, v = 0;

		if (dns_name_label(name, i, &lab, &len) != DNS_OK)
			return DNS_E_SYNTAX;
		if (v6) {
			int h;

			if (len != 1 || (h = hex_digit(lab[0])) < 0)
				return DNS_E_SYNTAX;
			addr[j / 2] |= (uint8_t)(j % 2 == 0 ? h << 4 : h);
			continue;
		}
		if (len > 3)
			return DNS_E_SYNTAX;
		for (size_t c = 0; c < len; c++) {
			if (lab[c] < '0' || lab[c] > '9')
				return DNS_E_SYNTAX;
			v = v * 10 + (unsigned int)(lab[c] - '0');
		}
		if (v > 255)
			return DNS_E_SYNTAX;
		addr[j] = (uint8_t)v;
	}
	*family = v6 ? AF_INET6 : AF_INET;
	*parts = k;
	return DNS_OK;
}

/* Appends a label to a name being built (no root yet). */
static void
put_label(struct dns_name *name, const char *s, size_t n)
{
	name->wire[name->len] = (uint8_t)n;
	memcpy(name->wire + name->len + 1, s, n);
	name->len = (uint8_t)(name->len + 1 + n);
}

/* Builds the in-addr.arpa or ip6.arpa name of an address prefix. */
int
dns_addr_to_reverse_name(int family, const uint8_t *addr, unsigned int parts,
    struct dns_name *name)
{
	static const char hex[] = "0123456789abcdef";
	char d[3];

	if (addr == NULL || name == NULL)
		return DNS_E_INVAL;
	name->len = 0;
	if (family == AF_INET) {
		if (parts > 4)
			return DNS_E_INVAL;
		for (unsigned int i = parts; i-- > 0;) {
			size_t n = 0;

			if (addr[i] >= 100)
				d[n++] = (char)('0' + addr[i] / 100);
			if (addr[i] >= 10)
				d[n++] = (char)('0' + addr[i] / 10 % 10);
			d[n++] = (char)('0' + addr[i] % 10);
			put_label(name, d, n);
		}
		put_label(name, "in-addr", 7);
	} else if (family == AF_INET6) {
		if (parts > 32)
			return DNS_E_INVAL;
		for (unsigned int j = parts; j-- > 0;) {
			d[0] = hex[j % 2 == 0 ? addr[j / 2] >> 4 : addr[j / 2] & 0xf];
			put_label(name, d, 1);
		}
		put_label(name, "ip6", 3);
	} else
		return DNS_E_INVAL;
	put_label(name, "arpa", 4);
	name->wire[name->len++] = 0;
	return DNS_OK;
}
