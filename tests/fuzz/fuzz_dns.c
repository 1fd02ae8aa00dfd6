/* fuzz_dns: DNS parsing, RR walking, RDATA expansion, names and rebuilding on arbitrary bytes. */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Name decompression is tried at every offset up to this one. */
#define FUZZ_NAME_OFFSETS	512
#define FUZZ_NAME_TEXTS		16

/* An invariant of the module failed: crash so that the fuzzer keeps the input. */
#define FUZZ_CHECK(x) do { \
	if (!(x)) \
		abort(); \
} while (0)

/* Case-insensitive byte comparison (names may take the case of the copy they point to). */
static bool
fold_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t x = a[i], y = b[i];

		if (x >= 'A' && x <= 'Z')
			x = (uint8_t)(x + 32);
		if (y >= 'A' && y <= 'Z')
			y = (uint8_t)(y + 32);
		if (x != y)
			return false;
	}
	return true;
}

/* A reverse name must survive address -> name -> address unchanged. */
static void
check_reverse(const struct dns_name *n)
{
	struct dns_name back;
	uint8_t addr[16], addr2[16];
	unsigned int parts, parts2;
	int family, family2;

	if (dns_reverse_name_to_addr(n, &family, addr, &parts) != DNS_OK)
		return;
	FUZZ_CHECK(dns_addr_to_reverse_name(family, addr, parts, &back) == DNS_OK);
	FUZZ_CHECK(dns_reverse_name_to_addr(&back, &family2, addr2, &parts2) == DNS_OK);
	FUZZ_CHECK(family == family2 && parts == parts2 && memcmp(addr, addr2, 16) == 0);
}

/* Text round trip: any name read from the wire prints and parses back to the same bytes. */
static void
check_name_text(const struct dns_name *n)
{
	char text[DNS_MAXTEXT];
	struct dns_name back;
	int len;

	len = dns_name_to_text(n, text, sizeof(text));
	FUZZ_CHECK(len > 0 && (size_t)len < sizeof(text) && strlen(text) == (size_t)len);
	FUZZ_CHECK(dns_name_from_text(text, &back) == DNS_OK);
	FUZZ_CHECK(back.len == n->len && memcmp(back.wire, n->wire, n->len) == 0);
}

/* The label functions agree with each other on n. */
static void
check_name_labels(const struct dns_name *n)
{
	struct dns_name s = *n, lower = *n;
	const uint8_t *label;
	size_t llen, total = 1;
	int labels = dns_name_labels(n);

	FUZZ_CHECK(labels >= 0);
	for (int i = 0; i < labels; i++) {
		FUZZ_CHECK(dns_name_label(n, (size_t)i, &label, &llen) == DNS_OK);
		FUZZ_CHECK(llen >= 1 && llen <= DNS_MAXLABEL);
		total += llen + 1;
	}
	FUZZ_CHECK(total == n->len);
	FUZZ_CHECK(dns_name_label(n, (size_t)labels, &label, &llen) == DNS_E_INVAL);
	dns_name_lower(&lower);
	FUZZ_CHECK(dns_name_equal(n, &lower));
	FUZZ_CHECK(dns_name_is_subdomain(n, n));
	while (dns_name_labels(&s) > 0) {
		FUZZ_CHECK(dns_name_strip(&s, 1) == DNS_OK);
		FUZZ_CHECK(dns_name_is_subdomain(n, &s));
		FUZZ_CHECK(!dns_name_is_subdomain(&s, n));
	}
	FUZZ_CHECK(s.len == 1);
	check_reverse(n);
}

/* Walks every RR of a parsed message, expanding and checking each. */
static void
walk(const uint8_t *data, size_t size, const struct dns_msg *m)
{
	static uint8_t out[DNS_MAXMSG];
	struct dns_rr rr;
	struct dns_soa soa, soa2;
	size_t pos = m->sec_off[DNS_SEC_ANSWER], outlen, vlen, n = 0;
	int ret, vret;

	while ((ret = dns_rr_next(m, data, size, &pos, &rr)) == 1) {
		n++;
		FUZZ_CHECK(rr.offset >= m->sec_off[DNS_SEC_ANSWER] && rr.end <= m->end);
		FUZZ_CHECK(rr.rdata == data + rr.rdata_offset && rr.ttl_offset + 6 == rr.rdata_offset);
		check_name_text(&rr.name);
		check_name_labels(&rr.name);
		ret = dns_rdata_expand(data, size, &rr, out, sizeof(out), &outlen);
		vret = dns_rdata_expand(data, size, &rr, NULL, 0, &vlen);
		FUZZ_CHECK(ret == vret);
		if (ret == DNS_OK)
			FUZZ_CHECK(outlen == vlen &&
			    (outlen <= rr.rdlength || outlen <= DNS_EXPAND_MAX));
		if (rr.type == DNS_T_SOA && ret == DNS_OK) {
			FUZZ_CHECK(dns_soa_read(out, outlen, 0, outlen, &soa) == DNS_OK);
			FUZZ_CHECK(dns_soa_read(data, size, rr.rdata_offset, rr.rdlength, &soa2) ==
			    DNS_OK);
			FUZZ_CHECK(soa.minimum == soa2.minimum && soa.serial == soa2.serial);
			FUZZ_CHECK(dns_name_equal(&soa.mname, &soa2.mname));
			FUZZ_CHECK(dns_soa_negative_ttl(rr.ttl, &soa) <= soa.minimum);
			check_name_text(&soa.rname);
		}
		if (rr.type == DNS_T_OPT) {
			const uint8_t *opt;
			uint16_t code, olen;
			size_t p = 0;

			while ((ret = dns_opt_next(rr.rdata, rr.rdlength, &p, &code, &opt, &olen)) == 1)
				FUZZ_CHECK(opt + olen <= rr.rdata + rr.rdlength);
			FUZZ_CHECK(ret == 0);
		}
	}
	FUZZ_CHECK(ret == 0);
	FUZZ_CHECK(n == (size_t)m->count[1] + m->count[2] + m->count[3]);
}

/* Next RR of m other than OPT, or 0 at the end. */
static int
next_non_opt(const struct dns_msg *m, const uint8_t *buf, size_t len, size_t *pos,
    struct dns_rr *rr)
{
	int ret;

	while ((ret = dns_rr_next(m, buf, len, pos, rr)) == 1 && rr->type == DNS_T_OPT)
		;
	return ret;
}

/* After a complete rebuild, the records match the original one for one (OPT aside). */
static void
compare(const uint8_t *data, size_t size, const struct dns_msg *m, const uint8_t *buf,
    size_t len, const struct dns_msg *m2)
{
	static uint8_t e1[DNS_MAXMSG], e2[DNS_MAXMSG];
	struct dns_rr rr, rr2;
	size_t pos = m->sec_off[DNS_SEC_ANSWER], pos2 = m2->sec_off[DNS_SEC_ANSWER], n1, n2;

	while (next_non_opt(m, data, size, &pos, &rr) == 1) {
		if (dns_rdata_expand(data, size, &rr, e1, sizeof(e1), &n1) != DNS_OK)
			continue;	/* it was not copied */
		FUZZ_CHECK(next_non_opt(m2, buf, len, &pos2, &rr2) == 1);
		FUZZ_CHECK(dns_name_equal(&rr.name, &rr2.name));
		FUZZ_CHECK(rr.type == rr2.type && rr.rclass == rr2.rclass && rr.ttl == rr2.ttl);
		FUZZ_CHECK(rr.section == rr2.section);
		FUZZ_CHECK(dns_rdata_expand(buf, len, &rr2, e2, sizeof(e2), &n2) == DNS_OK);
		FUZZ_CHECK(n1 == n2 && fold_equal(e1, e2, n1));
	}
	FUZZ_CHECK(next_non_opt(m2, buf, len, &pos2, &rr2) == 0);
}

/* Rebuilds a reply from the parsed message into exactly limit bytes of heap and re-parses it. */
static void
rebuild(const uint8_t *data, size_t size, const struct dns_msg *m, size_t limit)
{
	struct dns_builder b;
	struct dns_msg m2;
	struct dns_rr rr;
	uint8_t *buf;
	size_t pos, len, copied = 0, vlen;
	bool truncated = false, opt = false;
	int ret;

	if ((buf = malloc(limit)) == NULL)
		return;
	FUZZ_CHECK(dns_builder_init(&b, buf, limit, m->id, m->flags) == DNS_OK);
	if (m->edns.present)
		opt = dns_builder_reserve(&b, DNS_OPT_FIXED + (size_t)m->edns.opt_len) == DNS_OK;
	if (m->has_question && (ret = dns_build_question(&b, &m->q.name, m->q.qtype,
	    m->q.qclass)) != DNS_OK) {
		FUZZ_CHECK(ret == DNS_E_SPACE);
		dns_builder_truncate(&b);
		truncated = true;
	}
	pos = m->sec_off[DNS_SEC_ANSWER];
	while (!truncated && next_non_opt(m, data, size, &pos, &rr) == 1) {
		ret = dns_build_rr_copy(&b, rr.section, data, size, &rr);
		if (ret == DNS_OK)
			copied++;
		else if (ret == DNS_E_SPACE) {
			FUZZ_CHECK(b.truncated);
			dns_builder_truncate(&b);
			truncated = true;
		} else
			FUZZ_CHECK(ret == dns_rdata_expand(data, size, &rr, NULL, 0, &vlen));
	}
	if (opt)
		FUZZ_CHECK(dns_build_opt(&b, m->edns.udp_size, m->edns.ext_rcode, m->edns.version,
		    m->edns.flags, data + m->edns.opt_offset, m->edns.opt_len) == DNS_OK);
	len = dns_builder_finish(&b);
	FUZZ_CHECK(len >= DNS_HEADER_LEN && len <= limit);
	/* Whatever the builder writes is a valid message. */
	FUZZ_CHECK(dns_parse(buf, len, &m2) == DNS_OK);
	FUZZ_CHECK(m2.id == m->id && m2.trailing == 0);
	FUZZ_CHECK(m2.edns.present == opt);
	if (opt)
		FUZZ_CHECK(m2.edns.opt_len == m->edns.opt_len && memcmp(buf + m2.edns.opt_offset,
		    data + m->edns.opt_offset, m->edns.opt_len) == 0);
	if (truncated) {
		FUZZ_CHECK((m2.flags & DNS_F_TC) != 0);
		FUZZ_CHECK(m2.count[DNS_SEC_ANSWER] == 0 && m2.count[DNS_SEC_AUTHORITY] == 0);
	} else {
		FUZZ_CHECK(m2.has_question == m->has_question);
		if (m->has_question)
			FUZZ_CHECK(m2.q.name.len == m->q.name.len && memcmp(m2.q.name.wire,
			    m->q.name.wire, m->q.name.len) == 0);
		FUZZ_CHECK((size_t)m2.count[1] + m2.count[2] + m2.count[3] == copied + opt);
		compare(data, size, m, buf, len, &m2);
	}
	free(buf);
}

/* Decompresses a name at each early offset, as if something pointed there; the first few
 * names found also go through text and back (all of them would halve the speed). */
static void
names_everywhere(const uint8_t *data, size_t size)
{
	struct dns_name n;
	size_t end = size < FUZZ_NAME_OFFSETS ? size : FUZZ_NAME_OFFSETS;
	int texts = 0;

	for (size_t off = 0; off < end; off++) {
		size_t p = off;

		if (dns_name_read(data, size, &p, &n) != DNS_OK) {
			FUZZ_CHECK(p == off);
			continue;
		}
		FUZZ_CHECK(p > off && p <= size && n.len >= 1);
		if (texts++ < FUZZ_NAME_TEXTS)
			check_name_text(&n);
	}
}

/* The input as text: a name, a type mnemonic. */
static void
text_input(const uint8_t *data, size_t size)
{
	char text[DNS_MAXTEXT * 2], tname[DNS_TYPE_TEXT];
	struct dns_name n;
	uint16_t type, back;

	if (size >= sizeof(text))
		return;
	memcpy(text, data, size);
	text[size] = '\0';
	if (dns_name_from_text(text, &n) == DNS_OK) {
		check_name_text(&n);
		check_name_labels(&n);
	}
	if (dns_type_from_name(text, &type) == DNS_OK) {
		FUZZ_CHECK(dns_type_name(type, tname, sizeof(tname)) == DNS_OK);
		FUZZ_CHECK(dns_type_from_name(tname, &back) == DNS_OK && back == type);
	}
	if (size >= 2) {
		type = (uint16_t)(data[0] << 8 | data[1]);
		FUZZ_CHECK(dns_type_name(type, tname, sizeof(tname)) == DNS_OK);
		FUZZ_CHECK(dns_type_from_name(tname, &back) == DNS_OK && back == type);
		FUZZ_CHECK(dns_class_name(type, tname, sizeof(tname)) == DNS_OK);
		FUZZ_CHECK(dns_rcode_name(type & 0xfff, tname, sizeof(tname)) == DNS_OK);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_msg m, q;
	int ret, qret;

	ret = dns_parse(data, size, &m);
	qret = dns_parse_question_only(data, size, &q);
	if (ret == DNS_OK) {
		FUZZ_CHECK(m.cause == DNS_OK && m.walked && m.end + m.trailing == size);
		FUZZ_CHECK(qret == DNS_OK && q.has_question == m.has_question);
		if (m.has_question) {
			FUZZ_CHECK(q.q.qtype == m.q.qtype && q.q.qclass == m.q.qclass &&
			    q.q.len == m.q.len && dns_name_equal(&q.q.name, &m.q.name));
			check_name_text(&m.q.name);
			check_name_labels(&m.q.name);
		}
		FUZZ_CHECK(!m.edns.present || dns_msg_rcode(&m) <= 0xfff);
		walk(data, size, &m);
		rebuild(data, size, &m, DNS_UDP_MIN);
		rebuild(data, size, &m, DNS_MAXMSG);
	} else {
		FUZZ_CHECK(ret == DNS_E_HEADER || ret == DNS_E_QUESTION || ret == DNS_E_RR ||
		    ret == DNS_E_OPT);
		FUZZ_CHECK(m.cause < 0 && !m.walked);
		if (ret == DNS_E_HEADER)
			FUZZ_CHECK(qret == DNS_E_HEADER);
	}
	names_everywhere(data, size);
	text_input(data, size);
	return 0;
}
