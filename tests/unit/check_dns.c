/* check_dns: DNS names, decompression (RFC 9267 cases), parsing, RDATA, building, reverse names. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "common/dns.h"
#include "common/util.h"
#include "suites.h"

/* A packet under construction, written by hand byte by byte (never with the module's builder). */
struct pkt {
	uint8_t	b[4096];
	size_t	n;
};

static void
pkt_u8(struct pkt *p, unsigned int v)
{
	ck_assert_uint_lt(p->n, sizeof(p->b));
	p->b[p->n++] = (uint8_t)v;
}

static void
pkt_u16(struct pkt *p, unsigned int v)
{
	pkt_u8(p, v >> 8 & 0xff);
	pkt_u8(p, v & 0xff);
}

static void
pkt_u32(struct pkt *p, uint32_t v)
{
	pkt_u16(p, v >> 16);
	pkt_u16(p, v & 0xffff);
}

/* Appends bytes written as hex pairs, spaces ignored: "c0 0c". */
static void
pkt_hex(struct pkt *p, const char *hex)
{
	while (*hex != '\0') {
		unsigned int v;

		if (*hex == ' ') {
			hex++;
			continue;
		}
		ck_assert_msg(sscanf(hex, "%2x", &v) == 1, "bad hex in test: %s", hex);
		pkt_u8(p, v);
		hex += 2;
	}
}

static void
pkt_bytes(struct pkt *p, const void *data, size_t n)
{
	for (size_t i = 0; i < n; i++)
		pkt_u8(p, ((const uint8_t *)data)[i]);
}

/* Appends a plain dotted name uncompressed, without the root ("" writes nothing). */
static void
pkt_labels(struct pkt *p, const char *dotted)
{
	while (*dotted != '\0') {
		size_t n = strcspn(dotted, ".");

		pkt_u8(p, (unsigned int)n);
		pkt_bytes(p, dotted, n);
		dotted += n;
		if (*dotted == '.')
			dotted++;
	}
}

/* Appends a plain dotted name uncompressed, with its root label ("" is the root). */
static void
pkt_name(struct pkt *p, const char *dotted)
{
	pkt_labels(p, dotted);
	pkt_u8(p, 0);
}

static void
pkt_header(struct pkt *p, uint16_t id, uint16_t flags, unsigned int qd, unsigned int an,
    unsigned int ns, unsigned int ar)
{
	p->n = 0;
	pkt_u16(p, id);
	pkt_u16(p, flags);
	pkt_u16(p, qd);
	pkt_u16(p, an);
	pkt_u16(p, ns);
	pkt_u16(p, ar);
}

/* RR fixed fields after an owner name. */
static void
pkt_rr(struct pkt *p, uint16_t type, uint16_t rclass, uint32_t ttl, unsigned int rdlen)
{
	pkt_u16(p, type);
	pkt_u16(p, rclass);
	pkt_u32(p, ttl);
	pkt_u16(p, rdlen);
}

/* A heap copy of exactly p->n bytes, so ASan catches any read past the end. */
static uint8_t *
exact(const struct pkt *p)
{
	uint8_t *c = malloc(p->n > 0 ? p->n : 1);

	ck_assert_ptr_nonnull(c);
	memcpy(c, p->b, p->n);
	return c;
}

/* dns_parse over an exact-size copy. */
static int
parse_exact(const struct pkt *p, struct dns_msg *m)
{
	uint8_t *c = exact(p);
	int ret = dns_parse(c, p->n, m);

	free(c);
	return ret;
}

/* dns_name_read over an exact-size copy. */
static int
read_exact(const struct pkt *p, size_t *pos, struct dns_name *name)
{
	uint8_t *c = exact(p);
	int ret = dns_name_read(c, p->n, pos, name);

	free(c);
	return ret;
}

static void
name_of(const char *text, struct dns_name *name)
{
	ck_assert_int_eq(dns_name_from_text(text, name), DNS_OK);
}

static void
assert_name_text(const struct dns_name *name, const char *want)
{
	char buf[DNS_MAXTEXT];

	ck_assert_int_eq(dns_name_to_text(name, buf, sizeof(buf)), (int)strlen(want));
	ck_assert_str_eq(buf, want);
}

/* The dig query "kratos.webdevelop.internal A" (RD and AD set, as dig sends by default). */
static void
make_query(struct pkt *p, bool edns)
{
	pkt_header(p, 0x1234, DNS_F_RD | DNS_F_AD, 1, 0, 0, edns ? 1 : 0);
	pkt_name(p, "kratos.webdevelop.internal");
	pkt_u16(p, DNS_T_A);
	pkt_u16(p, DNS_C_IN);
	if (edns) {
		/* OPT: root, type 41, size 1232, ttl 0, a COOKIE option with an 8-byte client cookie. */
		pkt_hex(p, "00 0029 04d0 00000000 000c");
		pkt_hex(p, "000a 0008 0102030405060708");
	}
}

/*
 * A reply to "www.example.com A", with offsets fixed by hand:
 *  12 question www.example.com (example.com at 16) A IN, ends 33
 *  33 answer  C0 0C CNAME 300 -> web + C0 10; its RDATA at 45, ends 51
 *  51 answer  C0 2D (web.example.com) A 60 93.184.216.34, ends 67
 *  67 auth    C0 10 NS 3600 -> ns1 + C0 10; RDATA at 79, ends 85
 *  85 add     C0 4F (ns1.example.com) A 3600 192.0.2.53, ends 101
 * 101 add     OPT 1232, DO, ends 112
 */
static void
make_reply(struct pkt *p)
{
	pkt_header(p, 0xbeef, DNS_F_QR | DNS_F_RD | DNS_F_RA, 1, 2, 1, 2);
	pkt_name(p, "www.example.com");
	pkt_u16(p, DNS_T_A);
	pkt_u16(p, DNS_C_IN);
	pkt_hex(p, "c00c");
	pkt_rr(p, DNS_T_CNAME, DNS_C_IN, 300, 6);
	pkt_hex(p, "03 776562 c010");
	pkt_hex(p, "c02d");
	pkt_rr(p, DNS_T_A, DNS_C_IN, 60, 4);
	pkt_hex(p, "5db8d822");
	pkt_hex(p, "c010");
	pkt_rr(p, DNS_T_NS, DNS_C_IN, 3600, 6);
	pkt_hex(p, "03 6e7331 c010");
	pkt_hex(p, "c04f");
	pkt_rr(p, DNS_T_A, DNS_C_IN, 3600, 4);
	pkt_hex(p, "c0000235");
	pkt_hex(p, "00 0029 04d0 00 00 8000 0000");
	ck_assert_uint_eq(p->n, 112);
}

/* --- names: text ------------------------------------------------------------------------ */

START_TEST(test_name_text_roundtrip)
{
	static const uint8_t want[] = "\006kratos\012webdevelop\010internal";
	struct dns_name n, m;

	name_of("kratos.webdevelop.internal", &n);
	ck_assert_uint_eq(n.len, sizeof(want));
	ck_assert_mem_eq(n.wire, want, sizeof(want));
	ck_assert_int_eq(dns_name_labels(&n), 3);
	assert_name_text(&n, "kratos.webdevelop.internal");

	name_of("kratos.webdevelop.internal.", &m);
	ck_assert_uint_eq(m.len, n.len);
	ck_assert_mem_eq(m.wire, n.wire, n.len);

	name_of(".", &n);
	ck_assert_uint_eq(n.len, 1);
	ck_assert_uint_eq(n.wire[0], 0);
	ck_assert_int_eq(dns_name_labels(&n), 0);
	assert_name_text(&n, ".");

	/* Case is preserved both ways. */
	name_of("WWW.Example.COM", &n);
	assert_name_text(&n, "WWW.Example.COM");
}
END_TEST

START_TEST(test_name_text_escapes)
{
	struct dns_name n, back;
	char buf[DNS_MAXTEXT];

	/* An escaped dot stays inside the label. */
	name_of("a\\.b.c", &n);
	ck_assert_uint_eq(n.len, 1 + 3 + 1 + 1 + 1);
	ck_assert_mem_eq(n.wire, "\003a.b\001c", 7);
	assert_name_text(&n, "a\\.b.c");

	/* \DDD is decimal; printable results come back literal. */
	name_of("\\065bc", &n);
	ck_assert_mem_eq(n.wire, "\003Abc", 5);
	assert_name_text(&n, "Abc");

	/* Space, control and high bytes print as \DDD, the specials with a backslash. */
	name_of("a\\032b.\\001\\255.x\\\\y.\\(\\)\\;\\@\\$\\\"", &n);
	assert_name_text(&n, "a\\032b.\\001\\255.x\\\\y.\\(\\)\\;\\@\\$\\\"");
	ck_assert_int_eq(dns_name_labels(&n), 4);
	ck_assert_mem_eq(n.wire, "\003a b\002\001\377\003x\\y", 11);

	/* \X of an ordinary character is that character. */
	name_of("\\a\\b", &n);
	ck_assert_mem_eq(n.wire, "\002ab", 3);

	/* Whatever comes out goes back in unchanged. */
	ck_assert_int_gt(dns_name_to_text(&n, buf, sizeof(buf)), 0);
	name_of(buf, &back);
	ck_assert(dns_name_equal(&n, &back));

	ck_assert_int_eq(dns_name_from_text("\\256", &n), DNS_E_SYNTAX);
	ck_assert_int_eq(dns_name_from_text("a\\1", &n), DNS_E_SYNTAX);
	ck_assert_int_eq(dns_name_from_text("a\\12x", &n), DNS_E_SYNTAX);
	ck_assert_int_eq(dns_name_from_text("a\\", &n), DNS_E_SYNTAX);
	ck_assert_uint_eq(n.len, 0);
}
END_TEST

START_TEST(test_name_text_rejects)
{
	struct dns_name n;

	ck_assert_int_eq(dns_name_from_text("", &n), DNS_E_SYNTAX);
	ck_assert_int_eq(dns_name_from_text(NULL, &n), DNS_E_SYNTAX);
	ck_assert_int_eq(dns_name_from_text("..", &n), DNS_E_SYNTAX);
	ck_assert_int_eq(dns_name_from_text(".a", &n), DNS_E_SYNTAX);
	ck_assert_int_eq(dns_name_from_text("a..b", &n), DNS_E_SYNTAX);
	ck_assert_int_eq(dns_name_from_text("a..", &n), DNS_E_SYNTAX);
	ck_assert_int_eq(dns_name_from_text("a.b", NULL), DNS_E_INVAL);
}
END_TEST

START_TEST(test_name_text_limits)
{
	char text[400], buf[DNS_MAXTEXT];
	struct dns_name n;
	int len;

	/* A 63-byte label is fine, 64 is not. */
	memset(text, 'a', 63);
	memcpy(text + 63, ".com", 5);
	name_of(text, &n);
	ck_assert_uint_eq(n.wire[0], 63);
	memset(text, 'a', 64);
	memcpy(text + 64, ".com", 5);
	ck_assert_int_eq(dns_name_from_text(text, &n), DNS_E_LABEL);

	/* 63.63.63.61 is exactly 255 bytes on the wire; one more byte is 256. */
	memset(text, 'b', sizeof(text));
	text[63] = text[127] = text[191] = '.';
	text[253] = '\0';
	name_of(text, &n);
	ck_assert_uint_eq(n.len, 255);
	ck_assert_int_eq(dns_name_labels(&n), 4);
	text[253] = '.';
	text[254] = '\0';
	name_of(text, &n);	/* the trailing dot adds nothing */
	ck_assert_uint_eq(n.len, 255);
	text[253] = 'b';
	text[254] = '\0';
	ck_assert_int_eq(dns_name_from_text(text, &n), DNS_E_NAMELEN);
	text[254] = '.';
	text[255] = 'c';
	text[256] = '\0';
	ck_assert_int_eq(dns_name_from_text(text, &n), DNS_E_NAMELEN);
	/* 255 bytes reached exactly at a dot, then one more label. */
	text[253] = '.';
	text[254] = 'c';
	text[255] = '\0';
	ck_assert_int_eq(dns_name_from_text(text, &n), DNS_E_NAMELEN);

	/* The longest text form: 250 bytes as \DDD plus 3 dots fits DNS_MAXTEXT. */
	n.len = 0;
	for (int l = 0; l < 4; l++) {
		int ll = l < 3 ? 63 : 61;

		n.wire[n.len++] = (uint8_t)ll;
		memset(n.wire + n.len, 0x01, (size_t)ll);
		n.len = (uint8_t)(n.len + ll);
	}
	n.wire[n.len++] = 0;
	ck_assert_uint_eq(n.len, 255);
	len = dns_name_to_text(&n, buf, sizeof(buf));
	ck_assert_int_eq(len, 250 * 4 + 3);
	ck_assert_int_lt(len, DNS_MAXTEXT);
	/* Exactly enough room (len + NUL) works; one byte less is refused, leaving "". */
	ck_assert_int_eq(dns_name_to_text(&n, buf, (size_t)len + 1), len);
	ck_assert_int_eq(dns_name_to_text(&n, buf, (size_t)len), DNS_E_SPACE);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(dns_name_to_text(&n, buf, 1), DNS_E_SPACE);
	name_of(".", &n);
	ck_assert_int_eq(dns_name_to_text(&n, buf, 1), DNS_E_SPACE);
	ck_assert_int_eq(dns_name_to_text(&n, buf, 2), 1);

	/* Each kind of output runs out of room cleanly: a dot, a \X escape, a \DDD escape. */
	name_of("a.b", &n);
	ck_assert_int_eq(dns_name_to_text(&n, buf, 4), 3);
	ck_assert_int_eq(dns_name_to_text(&n, buf, 3), DNS_E_SPACE);
	ck_assert_int_eq(dns_name_to_text(&n, buf, 2), DNS_E_SPACE);
	name_of("a\\.b", &n);
	ck_assert_int_eq(dns_name_to_text(&n, buf, 5), 4);
	ck_assert_int_eq(dns_name_to_text(&n, buf, 4), DNS_E_SPACE);
	name_of("\\001", &n);
	ck_assert_int_eq(dns_name_to_text(&n, buf, 5), 4);
	ck_assert_int_eq(dns_name_to_text(&n, buf, 4), DNS_E_SPACE);
	ck_assert_str_eq(buf, "");

	/* A malformed struct is refused rather than walked off its end. */
	memset(&n, 0x3f, sizeof(n));
	ck_assert_int_eq(dns_name_to_text(&n, buf, sizeof(buf)), DNS_E_INVAL);
	ck_assert_int_eq(dns_name_labels(&n), -1);
}
END_TEST

/* --- names: comparisons and labels ------------------------------------------------------- */

START_TEST(test_name_equal_lower)
{
	struct dns_name a, b;

	name_of("Kratos.WebDevelop.Internal", &a);
	name_of("kratos.webdevelop.internal.", &b);
	ck_assert(dns_name_equal(&a, &b));
	name_of("kratos.webdevelop.interna", &b);
	ck_assert(!dns_name_equal(&a, &b));
	name_of("kratos.webdevelop.internam", &b);
	ck_assert(!dns_name_equal(&a, &b));
	/* Only ASCII letters fold: '[' (0x5b) is not '{' (0x7b). */
	name_of("a[", &a);
	name_of("a{", &b);
	ck_assert(!dns_name_equal(&a, &b));

	name_of("Kratos.WebDevelop.Internal", &a);
	dns_name_lower(&a);
	assert_name_text(&a, "kratos.webdevelop.internal");
	ck_assert_uint_eq(a.wire[0], 6);
}
END_TEST

START_TEST(test_name_subdomain)
{
	struct dns_name zone, n;

	name_of("webdevelop.internal", &zone);
	name_of("a.b.webdevelop.internal", &n);
	ck_assert(dns_name_is_subdomain(&n, &zone));
	name_of("WEBDEVELOP.internal", &n);
	ck_assert(dns_name_is_subdomain(&n, &zone));	/* the zone itself counts */
	name_of("xwebdevelop.internal", &n);
	ck_assert(!dns_name_is_subdomain(&n, &zone));	/* whole labels only */
	name_of("internal", &n);
	ck_assert(!dns_name_is_subdomain(&n, &zone));
	name_of("webdevelop.internal.evil", &n);
	ck_assert(!dns_name_is_subdomain(&n, &zone));
	name_of(".", &zone);
	ck_assert(dns_name_is_subdomain(&n, &zone));
	name_of("webdevelop.internal", &zone);
	/* A label whose bytes look like the zone's wire form is not the zone: "x\\010webdevelop"
	 * ends in 0a "webdevelop" 08 "internal" 00, the zone's exact bytes. */
	name_of("x\\010webdevelop.internal", &n);
	ck_assert_int_eq(dns_name_labels(&n), 2);
	ck_assert_mem_eq(n.wire + n.len - zone.len, zone.wire, zone.len);
	ck_assert(!dns_name_is_subdomain(&n, &zone));
	/* A label containing an escaped dot is one label. */
	name_of("x\\.webdevelop.internal", &n);
	name_of("webdevelop.internal", &zone);
	ck_assert(!dns_name_is_subdomain(&n, &zone));
}
END_TEST

START_TEST(test_name_labels_strip_concat)
{
	struct dns_name n, s, out;
	const uint8_t *l;
	size_t ll;

	name_of("kratos.webdevelop.internal", &n);
	ck_assert_int_eq(dns_name_label(&n, 0, &l, &ll), DNS_OK);
	ck_assert_uint_eq(ll, 6);
	ck_assert_mem_eq(l, "kratos", 6);
	ck_assert_int_eq(dns_name_label(&n, 2, &l, &ll), DNS_OK);
	ck_assert_uint_eq(ll, 8);
	ck_assert_mem_eq(l, "internal", 8);
	ck_assert_int_eq(dns_name_label(&n, 3, &l, &ll), DNS_E_INVAL);

	ck_assert_int_eq(dns_name_strip(&n, 1), DNS_OK);
	assert_name_text(&n, "webdevelop.internal");
	ck_assert_int_eq(dns_name_strip(&n, 3), DNS_E_INVAL);
	assert_name_text(&n, "webdevelop.internal");
	ck_assert_int_eq(dns_name_strip(&n, 2), DNS_OK);
	ck_assert_uint_eq(n.len, 1);
	ck_assert_int_eq(dns_name_strip(&n, 0), DNS_OK);
	ck_assert_int_eq(dns_name_strip(&n, 1), DNS_E_INVAL);

	name_of("host", &n);
	name_of("lan", &s);
	ck_assert_int_eq(dns_name_concat(&n, &s, &out), DNS_OK);
	assert_name_text(&out, "host.lan");
	ck_assert_int_eq(dns_name_concat(&n, &s, &n), DNS_OK);	/* out aliases prefix */
	assert_name_text(&n, "host.lan");
	name_of(".", &s);
	ck_assert_int_eq(dns_name_concat(&n, &s, &out), DNS_OK);
	assert_name_text(&out, "host.lan");
	ck_assert_int_eq(dns_name_concat(&s, &n, &out), DNS_OK);
	assert_name_text(&out, "host.lan");

	/* 254 + 4 bytes is too long. */
	{
		char text[300];

		memset(text, 'z', sizeof(text));
		text[63] = text[127] = text[191] = '.';
		text[252] = '\0';
		name_of(text, &n);
		ck_assert_uint_eq(n.len, 254);
		name_of("abc", &s);
		ck_assert_int_eq(dns_name_concat(&s, &n, &out), DNS_E_NAMELEN);
	}
}
END_TEST

/* --- decompression (RFC 9267) ------------------------------------------------------------ */

/* Header, then "example.com" at 12 (com at 20, root at 24), then "www" + pointer at 25. */
static void
make_names(struct pkt *p)
{
	pkt_header(p, 1, 0, 0, 0, 0, 0);
	pkt_name(p, "example.com");
	pkt_labels(p, "www");
	pkt_hex(p, "c00c");
}

START_TEST(test_decompress_valid)
{
	struct pkt p;
	struct dns_name n;
	size_t pos;

	make_names(&p);
	pos = 25;
	ck_assert_int_eq(read_exact(&p, &pos, &n), DNS_OK);
	ck_assert_uint_eq(pos, 31);	/* past the pointer, not past the target */
	assert_name_text(&n, "www.example.com");
	pos = 12;
	ck_assert_int_eq(read_exact(&p, &pos, &n), DNS_OK);
	ck_assert_uint_eq(pos, 25);
	assert_name_text(&n, "example.com");
	/* A pointer into the middle of an earlier name (its "com" label). */
	pkt_hex(&p, "c014");
	pos = 31;
	ck_assert_int_eq(read_exact(&p, &pos, &n), DNS_OK);
	ck_assert_uint_eq(pos, 33);
	assert_name_text(&n, "com");
}
END_TEST

START_TEST(test_decompress_self_and_loops)
{
	struct pkt p;
	struct dns_name n;
	size_t pos;

	/* Pointer to itself. */
	make_names(&p);
	pkt_hex(&p, "c01f");
	pos = 31;
	ck_assert_int_eq(read_exact(&p, &pos, &n), DNS_E_POINTER);
	ck_assert_uint_eq(pos, 31);	/* untouched on error */
	ck_assert_uint_eq(n.len, 0);

	/* A -> B -> A: "a" at 12 points to 16, "b" at 16 points back to 12. */
	pkt_header(&p, 1, 0, 0, 0, 0, 0);
	pkt_hex(&p, "01 61 c010");
	pkt_hex(&p, "01 62 c00c");
	pos = 16;
	ck_assert_int_eq(read_exact(&p, &pos, &n), DNS_E_POINTER);
	pos = 12;
	ck_assert_int_eq(read_exact(&p, &pos, &n), DNS_E_POINTER);

	/* A loop through the labels of the same name: "a" at 12, then a pointer back to 12. */
	pkt_header(&p, 1, 0, 0, 0, 0, 0);
	pkt_hex(&p, "01 61 c00c");
	pos = 12;
	ck_assert_int_eq(read_exact(&p, &pos, &n), DNS_E_POINTER);
	/* Entering the same bytes at the pointer: the target's labels run into the pointer. */
	pos = 14;
	ck_assert_int_eq(read_exact(&p, &pos, &n), DNS_E_POINTER);
}
END_TEST

START_TEST(test_decompress_bad_targets)
{
	struct pkt p;
	struct dns_name n;
	size_t pos;

	/* Forward pointer, even to a valid name. */
	pkt_header(&p, 1, 0, 0, 0, 0, 0);
	pkt_hex(&p, "c00e");
	pkt_name(&p, "example.com");
	pos = 12;
	ck_assert_int_eq(read_exact(&p, &pos, &n), DNS_E_POINTER);
	pos = 14;
	ck_assert_int_eq(read_exact(&p, &pos, &n), DNS_OK);

	/* Pointers past the end of the message. */
	make_names(&p);
	pkt_hex(&p, "c0ff");
	pos = 31;
	ck_assert_int_eq(read_exact(&p, &pos, &n), DNS_E_POINTER);
	make_names(&p);
	pkt_hex(&p, "ffff");
	pos = 31;
	ck_assert_int_eq(read_exact(&p, &pos, &n), DNS_E_POINTER);

	/* Pointers into the header. */
	make_names(&p);
	pkt_hex(&p, "01 61 c005");
	pos = 31;
	ck_assert_int_eq(read_exact(&p, &pos, &n), DNS_E_POINTER);
	make_names(&p);
	pkt_hex(&p, "c000");
	pos = 31;
	ck_assert_int_eq(read_exact(&p, &pos, &n), DNS_E_POINTER);
	make_names(&p);
	pkt_hex(&p, "c00b");
	pos = 31;
	ck_assert_int_eq(read_exact(&p, &pos, &n), DNS_E_POINTER);

	/* A backward pointer whose target's labels run forward past the pointer (fuzzer find). */
	pkt_header(&p, 1, 0, 0, 0, 0, 0);
	pkt_hex(&p, "05 6162");
	pkt_hex(&p, "c00c 636465 00");
	pos = 15;
	ck_assert_int_eq(read_exact(&p, &pos, &n), DNS_E_POINTER);
	/* The same target is fine when read where it is written. */
	pos = 12;
	ck_assert_int_eq(read_exact(&p, &pos, &n), DNS_E_LABEL);

	/* A pointer cut in half by the end of the message. */
	make_names(&p);
	pkt_hex(&p, "01 61 c0");
	pos = 31;
	ck_assert_int_eq(read_exact(&p, &pos, &n), DNS_E_TRUNCATED);
}
END_TEST

/* "x" at 12, then count pointers each aiming at the one before; returns the last one's offset. */
static size_t
make_chain(struct pkt *p, int count)
{
	size_t prev = 12, last = 12;

	pkt_header(p, 1, 0, 0, 0, 0, 0);
	pkt_hex(p, "01 78 00");
	for (int i = 0; i < count; i++) {
		last = p->n;
		pkt_u16(p, 0xc000 | (unsigned int)prev);
		prev = last;
	}
	return last;
}

START_TEST(test_decompress_nested)
{
	struct pkt p;
	struct dns_name n;
	size_t pos, last;

	last = pos = make_chain(&p, 127);
	ck_assert_int_eq(read_exact(&p, &pos, &n), DNS_OK);
	ck_assert_uint_eq(pos, last + 2);
	assert_name_text(&n, "x");

	pos = make_chain(&p, DNS_MAXPTRS);
	ck_assert_int_eq(read_exact(&p, &pos, &n), DNS_OK);
	pos = make_chain(&p, DNS_MAXPTRS + 1);
	ck_assert_int_eq(read_exact(&p, &pos, &n), DNS_E_POINTER);
}
END_TEST

START_TEST(test_decompress_truncated_and_labels)
{
	struct pkt p;
	struct dns_name n;
	size_t pos;
	uint8_t label[63];

	/* Missing terminator at the end of the buffer. */
	pkt_header(&p, 1, 0, 0, 0, 0, 0);
	pkt_labels(&p, "example.com");
	pos = 12;
	ck_assert_int_eq(read_exact(&p, &pos, &n), DNS_E_TRUNCATED);
	/* A label longer than what is left. */
	pkt_header(&p, 1, 0, 0, 0, 0, 0);
	pkt_hex(&p, "07 657861");
	pos = 12;
	ck_assert_int_eq(read_exact(&p, &pos, &n), DNS_E_TRUNCATED);
	/* Nothing at all. */
	pkt_header(&p, 1, 0, 0, 0, 0, 0);
	pos = 12;
	ck_assert_int_eq(read_exact(&p, &pos, &n), DNS_E_TRUNCATED);
	pos = 400;
	ck_assert_int_eq(read_exact(&p, &pos, &n), DNS_E_TRUNCATED);

	/* Reserved label types 0x40 (also what a 64-byte length looks like) and 0x80. */
	pkt_header(&p, 1, 0, 0, 0, 0, 0);
	pkt_hex(&p, "41 61 00");
	pos = 12;
	ck_assert_int_eq(read_exact(&p, &pos, &n), DNS_E_LABEL);
	pkt_header(&p, 1, 0, 0, 0, 0, 0);
	pkt_hex(&p, "80 00");
	pos = 12;
	ck_assert_int_eq(read_exact(&p, &pos, &n), DNS_E_LABEL);
	pkt_header(&p, 1, 0, 0, 0, 0, 0);
	pkt_hex(&p, "01 61 bf 00");
	pos = 12;
	ck_assert_int_eq(read_exact(&p, &pos, &n), DNS_E_LABEL);

	/* Four 63-byte labels joined by pointers make 257 bytes: too long; three are fine. */
	pkt_header(&p, 1, 0, 0, 0, 0, 0);
	memset(label, 'a', sizeof(label));
	pkt_u8(&p, 63);
	pkt_bytes(&p, label, 63);
	pkt_u8(&p, 0);			/* ends at 77 */
	pkt_u8(&p, 63);
	pkt_bytes(&p, label, 63);
	pkt_hex(&p, "c00c");		/* ends at 143 */
	pkt_u8(&p, 63);
	pkt_bytes(&p, label, 63);
	pkt_hex(&p, "c04d");		/* ends at 209 */
	pkt_u8(&p, 63);
	pkt_bytes(&p, label, 63);
	pkt_hex(&p, "c08f");
	pos = 143;
	ck_assert_int_eq(read_exact(&p, &pos, &n), DNS_OK);
	ck_assert_uint_eq(n.len, 193);
	pos = 209;
	ck_assert_int_eq(read_exact(&p, &pos, &n), DNS_E_NAMELEN);

	/* Uncompressed 63.63.63.61 is 255 bytes and fine; 63.63.63.62 is 256. */
	for (int last = 61; last <= 62; last++) {
		pkt_header(&p, 1, 0, 0, 0, 0, 0);
		for (int l = 0; l < 3; l++) {
			pkt_u8(&p, 63);
			pkt_bytes(&p, label, 63);
		}
		pkt_u8(&p, (unsigned int)last);
		pkt_bytes(&p, label, (size_t)last);
		pkt_u8(&p, 0);
		pos = 12;
		ck_assert_int_eq(read_exact(&p, &pos, &n), last == 61 ? DNS_OK : DNS_E_NAMELEN);
		if (last == 61) {
			ck_assert_uint_eq(n.len, 255);
			ck_assert_uint_eq(pos, p.n);
		}
	}
}
END_TEST

/* --- parsing ---------------------------------------------------------------------------- */

START_TEST(test_parse_query_plain)
{
	struct pkt p;
	struct dns_msg m;
	struct dns_rr rr;
	size_t pos;
	uint8_t *buf;

	make_query(&p, false);
	ck_assert_uint_eq(p.n, 44);
	buf = exact(&p);
	ck_assert_int_eq(dns_parse(buf, p.n, &m), DNS_OK);
	ck_assert_uint_eq(m.id, 0x1234);
	ck_assert_uint_eq(m.flags, DNS_F_RD | DNS_F_AD);
	ck_assert_uint_eq(DNS_OPCODE(m.flags), DNS_OP_QUERY);
	ck_assert_uint_eq(m.count[DNS_SEC_QUESTION], 1);
	ck_assert(m.has_question);
	ck_assert_uint_eq(m.q.qtype, DNS_T_A);
	ck_assert_uint_eq(m.q.qclass, DNS_C_IN);
	ck_assert_uint_eq(m.q.offset, 12);
	ck_assert_uint_eq(m.q.len, 32);
	assert_name_text(&m.q.name, "kratos.webdevelop.internal");
	ck_assert_uint_eq(m.sec_off[DNS_SEC_ANSWER], 44);
	ck_assert_uint_eq(m.sec_off[DNS_SEC_ADDITIONAL], 44);
	ck_assert_uint_eq(m.end, 44);
	ck_assert_uint_eq(m.trailing, 0);
	ck_assert(m.walked);
	ck_assert(!m.edns.present);
	ck_assert_int_eq(m.cause, DNS_OK);
	pos = m.sec_off[DNS_SEC_ANSWER];
	ck_assert_int_eq(dns_rr_next(&m, buf, p.n, &pos, &rr), 0);
	free(buf);
}
END_TEST

START_TEST(test_parse_query_edns)
{
	struct pkt p;
	struct dns_msg m;
	struct dns_rr rr;
	const uint8_t *data;
	uint16_t code, dlen;
	size_t pos, opos = 0;
	uint8_t *buf;

	make_query(&p, true);
	buf = exact(&p);
	ck_assert_int_eq(dns_parse(buf, p.n, &m), DNS_OK);
	ck_assert(m.edns.present);
	ck_assert_uint_eq(m.edns.udp_size, 1232);
	ck_assert_uint_eq(m.edns.version, 0);
	ck_assert_uint_eq(m.edns.ext_rcode, 0);
	ck_assert_uint_eq(m.edns.flags & DNS_EDNS_DO, 0);
	ck_assert_uint_eq(m.edns.offset, 44);
	ck_assert_uint_eq(m.edns.len, 23);
	ck_assert_uint_eq(m.edns.opt_offset, 55);
	ck_assert_uint_eq(m.edns.opt_len, 12);
	ck_assert_uint_eq(m.end, p.n);

	ck_assert_int_eq(dns_opt_next(buf + m.edns.opt_offset, m.edns.opt_len, &opos, &code,
	    &data, &dlen), 1);
	ck_assert_uint_eq(code, DNS_OPT_COOKIE);
	ck_assert_uint_eq(dlen, 8);
	ck_assert_ptr_eq(data, buf + 59);
	ck_assert_int_eq(dns_opt_next(buf + m.edns.opt_offset, m.edns.opt_len, &opos, &code,
	    &data, &dlen), 0);

	pos = m.sec_off[DNS_SEC_ANSWER];
	ck_assert_int_eq(dns_rr_next(&m, buf, p.n, &pos, &rr), 1);
	ck_assert_uint_eq(rr.type, DNS_T_OPT);
	ck_assert_int_eq(rr.section, DNS_SEC_ADDITIONAL);
	ck_assert_uint_eq(rr.name.len, 1);
	ck_assert_int_eq(dns_rr_next(&m, buf, p.n, &pos, &rr), 0);
	free(buf);
}
END_TEST

START_TEST(test_parse_short)
{
	struct pkt p;
	struct dns_msg m;

	ck_assert_int_eq(dns_parse(NULL, 0, &m), DNS_E_HEADER);
	pkt_header(&p, 0x4242, 0, 0, 0, 0, 0);
	p.n = 0;
	ck_assert_int_eq(parse_exact(&p, &m), DNS_E_HEADER);
	ck_assert_int_eq(m.cause, DNS_E_TRUNCATED);
	pkt_header(&p, 0x4242, 0, 0, 0, 0, 0);
	p.n = 11;
	ck_assert_int_eq(parse_exact(&p, &m), DNS_E_HEADER);
	ck_assert_int_eq(dns_parse_question_only(p.b, 11, &m), DNS_E_HEADER);
	/* A bare header is a valid (empty) message. */
	p.n = 12;
	ck_assert_int_eq(parse_exact(&p, &m), DNS_OK);
	ck_assert(!m.has_question);
	ck_assert_uint_eq(m.end, 12);
	ck_assert_uint_eq(m.id, 0x4242);
	ck_assert_int_eq(dns_parse(p.b, 12, NULL), DNS_E_INVAL);
}
END_TEST

START_TEST(test_parse_lying_counts)
{
	struct pkt p;
	struct dns_msg m;

	/* ANCOUNT 65535 and no records at all. */
	make_query(&p, false);
	p.b[6] = p.b[7] = 0xff;
	ck_assert_int_eq(parse_exact(&p, &m), DNS_E_RR);
	ck_assert_int_eq(m.cause, DNS_E_TRUNCATED);
	ck_assert_uint_eq(m.id, 0x1234);	/* enough to answer FORMERR */
	ck_assert_uint_eq(m.count[DNS_SEC_ANSWER], 65535);
	ck_assert(!m.walked);

	/* One more question than present. */
	make_query(&p, false);
	p.b[5] = 2;
	ck_assert_int_eq(parse_exact(&p, &m), DNS_E_QUESTION);
	ck_assert_int_eq(m.cause, DNS_E_TRUNCATED);

	/* An additional record announced, none there. */
	make_query(&p, false);
	p.b[11] = 1;
	ck_assert_int_eq(parse_exact(&p, &m), DNS_E_RR);

	/* QDCOUNT 65535 with one question. */
	make_query(&p, false);
	p.b[4] = p.b[5] = 0xff;
	ck_assert_int_eq(parse_exact(&p, &m), DNS_E_QUESTION);
}
END_TEST

START_TEST(test_parse_rdlength)
{
	struct pkt p;
	struct dns_msg m;

	/* RDLENGTH 100 with 4 bytes present. */
	pkt_header(&p, 9, DNS_F_QR, 1, 1, 0, 0);
	pkt_name(&p, "a.example");
	pkt_u16(&p, DNS_T_A);
	pkt_u16(&p, DNS_C_IN);
	pkt_hex(&p, "c00c");
	pkt_rr(&p, DNS_T_A, DNS_C_IN, 60, 100);
	pkt_hex(&p, "0a000001");
	ck_assert_int_eq(parse_exact(&p, &m), DNS_E_RR);
	ck_assert_int_eq(m.cause, DNS_E_TRUNCATED);
	/* RDLENGTH up to exactly the last byte is fine. */
	p.b[p.n - 5] = 4;
	ck_assert_int_eq(parse_exact(&p, &m), DNS_OK);
	ck_assert_uint_eq(m.end, p.n);
	/* RDLENGTH one past it is not. */
	p.b[p.n - 5] = 5;
	ck_assert_int_eq(parse_exact(&p, &m), DNS_E_RR);
	/* Fixed fields cut short. */
	p.n -= 7;
	ck_assert_int_eq(parse_exact(&p, &m), DNS_E_RR);
	ck_assert_int_eq(m.cause, DNS_E_TRUNCATED);
	/* An owner pointing back at bytes that, read as labels, run on into this RR: 24 is the
	 * question's QTYPE low byte (01), a label holding QCLASS's 00, then 01 takes in byte 27. */
	pkt_header(&p, 9, DNS_F_QR, 1, 1, 0, 0);
	pkt_name(&p, "a.example");
	pkt_u16(&p, DNS_T_A);
	pkt_u16(&p, DNS_C_IN);
	pkt_hex(&p, "c018");
	pkt_rr(&p, DNS_T_A, DNS_C_IN, 60, 0);
	pkt_hex(&p, "00");
	ck_assert_int_eq(parse_exact(&p, &m), DNS_E_RR);
	ck_assert_int_eq(m.cause, DNS_E_POINTER);
	/* A bad owner name is an RR error with the name's cause. */
	pkt_header(&p, 9, DNS_F_QR, 1, 1, 0, 0);
	pkt_name(&p, "a.example");
	pkt_u16(&p, DNS_T_A);
	pkt_u16(&p, DNS_C_IN);
	pkt_hex(&p, "c020");
	pkt_rr(&p, DNS_T_A, DNS_C_IN, 60, 4);
	pkt_hex(&p, "0a000001");
	ck_assert_int_eq(parse_exact(&p, &m), DNS_E_RR);
	ck_assert_int_eq(m.cause, DNS_E_POINTER);
}
END_TEST

START_TEST(test_parse_opt_errors)
{
	struct pkt p;
	struct dns_msg m;

	/* OPT in the answer section. */
	make_query(&p, false);
	p.b[7] = 1;
	pkt_hex(&p, "00 0029 04d0 00000000 0000");
	ck_assert_int_eq(parse_exact(&p, &m), DNS_E_OPT);
	ck_assert_int_eq(m.cause, DNS_E_OPT);
	/* In the authority section. */
	make_query(&p, false);
	p.b[9] = 1;
	pkt_hex(&p, "00 0029 04d0 00000000 0000");
	ck_assert_int_eq(parse_exact(&p, &m), DNS_E_OPT);
	/* Two OPT RRs. */
	make_query(&p, true);
	p.b[11] = 2;
	pkt_hex(&p, "00 0029 0200 00000000 0000");
	ck_assert_int_eq(parse_exact(&p, &m), DNS_E_OPT);
	/* Owner name not the root. */
	make_query(&p, false);
	p.b[11] = 1;
	pkt_hex(&p, "01 61 00 0029 04d0 00000000 0000");
	ck_assert_int_eq(parse_exact(&p, &m), DNS_E_OPT);
	/* An owner compressed to the question's root label is still the root name. */
	make_query(&p, false);
	p.b[11] = 1;
	pkt_hex(&p, "c027 0029 04d0 00000000 0000");
	ck_assert_int_eq(parse_exact(&p, &m), DNS_OK);
	ck_assert_uint_eq(m.edns.len, 12);
	/* Option length past the OPT RDATA (CVE-2017-14496). */
	make_query(&p, false);
	p.b[11] = 1;
	pkt_hex(&p, "00 0029 04d0 00000000 0006 000a 000a 0102");
	ck_assert_int_eq(parse_exact(&p, &m), DNS_E_OPT);
	ck_assert_int_eq(m.cause, DNS_E_TRUNCATED);
	/* Walked by hand, the overrunning option is refused at once, never handed out. */
	{
		static const uint8_t bad[] = { 0x00, 0x0a, 0x00, 0x0a, 0x01, 0x02 };
		const uint8_t *data = NULL;
		uint16_t code, dlen;
		size_t opos = 0;

		ck_assert_int_eq(dns_opt_next(bad, sizeof(bad), &opos, &code, &data, &dlen), DNS_E_OPT);
		ck_assert_uint_eq(opos, 0);
		ck_assert_ptr_null(data);
		ck_assert_int_eq(dns_opt_next(bad, 3, &opos, &code, &data, &dlen), DNS_E_OPT);
		ck_assert_int_eq(dns_opt_next(bad, 4, &opos, &code, &data, &dlen), DNS_E_OPT);
		ck_assert_int_eq(dns_opt_next(bad, 0, &opos, &code, &data, &dlen), 0);
	}
	/* An option header cut in half. */
	make_query(&p, false);
	p.b[11] = 1;
	pkt_hex(&p, "00 0029 04d0 00000000 0003 000a 00");
	ck_assert_int_eq(parse_exact(&p, &m), DNS_E_OPT);
	/* An empty option is fine, and so is a record after the OPT. */
	make_query(&p, false);
	p.b[11] = 2;
	pkt_hex(&p, "00 0029 04d0 00018000 0004 000c 0000");
	pkt_hex(&p, "c00c 0001 0001 00000000 0004 7f000001");
	ck_assert_int_eq(parse_exact(&p, &m), DNS_OK);
	ck_assert_uint_eq(m.edns.ext_rcode, 0);
	ck_assert_uint_eq(m.edns.version, 1);
	ck_assert_uint_eq(m.edns.flags, DNS_EDNS_DO);
	ck_assert_uint_eq(m.edns.opt_len, 4);
}
END_TEST

START_TEST(test_parse_question_errors)
{
	struct pkt p;
	struct dns_msg m;

	/* A question name that points at itself. */
	pkt_header(&p, 5, 0, 1, 0, 0, 0);
	pkt_hex(&p, "c00c 0001 0001");
	ck_assert_int_eq(parse_exact(&p, &m), DNS_E_QUESTION);
	ck_assert_int_eq(m.cause, DNS_E_POINTER);
	ck_assert_int_eq(dns_parse_question_only(p.b, p.n, &m), DNS_E_QUESTION);
	/* A name that runs off the end. */
	pkt_header(&p, 5, 0, 1, 0, 0, 0);
	pkt_labels(&p, "kratos.webdevelop");
	ck_assert_int_eq(parse_exact(&p, &m), DNS_E_QUESTION);
	ck_assert_int_eq(m.cause, DNS_E_TRUNCATED);
	/* QTYPE present, QCLASS missing. */
	pkt_header(&p, 5, 0, 1, 0, 0, 0);
	pkt_name(&p, "kratos");
	pkt_u16(&p, DNS_T_A);
	ck_assert_int_eq(parse_exact(&p, &m), DNS_E_QUESTION);
	ck_assert_int_eq(m.cause, DNS_E_TRUNCATED);
	/* A reserved label type. */
	pkt_header(&p, 5, 0, 1, 0, 0, 0);
	pkt_hex(&p, "8161 00 0001 0001");
	ck_assert_int_eq(parse_exact(&p, &m), DNS_E_QUESTION);
	ck_assert_int_eq(m.cause, DNS_E_LABEL);
}
END_TEST

START_TEST(test_parse_reply)
{
	static const struct {
		size_t		 offset;
		uint16_t	 type;
		enum dns_section sec;
		uint32_t	 ttl;
		const char	*owner;
	} want[] = {
		{ 33, DNS_T_CNAME, DNS_SEC_ANSWER, 300, "www.example.com" },
		{ 51, DNS_T_A, DNS_SEC_ANSWER, 60, "web.example.com" },
		{ 67, DNS_T_NS, DNS_SEC_AUTHORITY, 3600, "example.com" },
		{ 85, DNS_T_A, DNS_SEC_ADDITIONAL, 3600, "ns1.example.com" },
		{ 101, DNS_T_OPT, DNS_SEC_ADDITIONAL, DNS_EDNS_DO, "." },
	};
	struct pkt p;
	struct dns_msg m;
	struct dns_rr rr;
	size_t pos, i;
	uint8_t *buf;

	make_reply(&p);
	buf = exact(&p);
	ck_assert_int_eq(dns_parse(buf, p.n, &m), DNS_OK);
	ck_assert(m.flags & DNS_F_QR);
	ck_assert(m.flags & DNS_F_RA);
	ck_assert_uint_eq(dns_msg_rcode(&m), DNS_R_NOERROR);
	ck_assert_uint_eq(m.sec_off[DNS_SEC_ANSWER], 33);
	ck_assert_uint_eq(m.sec_off[DNS_SEC_AUTHORITY], 67);
	ck_assert_uint_eq(m.sec_off[DNS_SEC_ADDITIONAL], 85);
	ck_assert_uint_eq(m.end, 112);
	ck_assert(m.edns.present);
	ck_assert_uint_eq(m.edns.flags, DNS_EDNS_DO);
	ck_assert_uint_eq(m.edns.offset, 101);

	pos = m.sec_off[DNS_SEC_ANSWER];
	for (i = 0; i < nitems(want); i++) {
		ck_assert_int_eq(dns_rr_next(&m, buf, p.n, &pos, &rr), 1);
		ck_assert_uint_eq(rr.offset, want[i].offset);
		ck_assert_uint_eq(rr.type, want[i].type);
		ck_assert_int_eq(rr.section, want[i].sec);
		ck_assert_uint_eq(rr.ttl, want[i].ttl);
		ck_assert_uint_eq(rr.rclass, want[i].type == DNS_T_OPT ? 1232 : DNS_C_IN);
		ck_assert_ptr_eq(rr.rdata, buf + rr.rdata_offset);
		ck_assert_uint_eq(rr.end, rr.rdata_offset + rr.rdlength);
		ck_assert_uint_eq(pos, rr.end);
		assert_name_text(&rr.name, want[i].owner);
		if (i == 0) {
			ck_assert_uint_eq(rr.ttl_offset, 39);
			ck_assert_uint_eq(rr.rdata_offset, 45);
			ck_assert_uint_eq(rr.rdlength, 6);
		}
	}
	ck_assert_int_eq(dns_rr_next(&m, buf, p.n, &pos, &rr), 0);
	ck_assert_int_eq(dns_rr_next(&m, buf, p.n, &pos, &rr), 0);
	/* Walking one section from its start. */
	pos = m.sec_off[DNS_SEC_AUTHORITY];
	ck_assert_int_eq(dns_rr_next(&m, buf, p.n, &pos, &rr), 1);
	ck_assert_uint_eq(rr.type, DNS_T_NS);
	/* Misuse is refused: a position inside the question, a buffer shorter than parsed. */
	pos = 12;
	ck_assert_int_eq(dns_rr_next(&m, buf, p.n, &pos, &rr), DNS_E_INVAL);
	pos = m.sec_off[DNS_SEC_ANSWER];
	ck_assert_int_eq(dns_rr_next(&m, buf, p.n - 1, &pos, &rr), DNS_E_INVAL);
	free(buf);
}
END_TEST

START_TEST(test_parse_sections_and_trailing)
{
	struct pkt p;
	struct dns_msg m;
	struct dns_rr rr;
	size_t pos;

	/* NXDOMAIN: empty answer, SOA in authority, nothing else; then 3 bytes of junk. */
	pkt_header(&p, 7, DNS_F_QR | DNS_F_RA | DNS_R_NXDOMAIN, 1, 0, 1, 0);
	pkt_name(&p, "nx.internal");
	pkt_u16(&p, DNS_T_AAAA);
	pkt_u16(&p, DNS_C_IN);
	pkt_name(&p, "");
	pkt_rr(&p, DNS_T_SOA, DNS_C_IN, 86400, 64);
	pkt_name(&p, "a.root-servers.net");
	pkt_name(&p, "nstld.verisign-grs.com");
	pkt_hex(&p, "78a39d75 00000708 00000384 00093a80 00015180");
	pkt_hex(&p, "deadbe");
	ck_assert_int_eq(dns_parse(p.b, p.n, &m), DNS_OK);
	ck_assert_uint_eq(dns_msg_rcode(&m), DNS_R_NXDOMAIN);
	ck_assert_uint_eq(m.trailing, 3);
	ck_assert_uint_eq(m.end, p.n - 3);
	pos = m.sec_off[DNS_SEC_ANSWER];
	ck_assert_int_eq(dns_rr_next(&m, p.b, p.n, &pos, &rr), 1);
	ck_assert_int_eq(rr.section, DNS_SEC_AUTHORITY);
	ck_assert_uint_eq(rr.type, DNS_T_SOA);
	ck_assert_int_eq(dns_rr_next(&m, p.b, p.n, &pos, &rr), 0);

	/* Two questions: both walked, the first kept. */
	pkt_header(&p, 7, 0, 2, 0, 0, 0);
	pkt_name(&p, "one.example");
	pkt_u16(&p, DNS_T_A);
	pkt_u16(&p, DNS_C_IN);
	pkt_name(&p, "two.example");
	pkt_u16(&p, DNS_T_TXT);
	pkt_u16(&p, DNS_C_CH);
	ck_assert_int_eq(parse_exact(&p, &m), DNS_OK);
	assert_name_text(&m.q.name, "one.example");
	ck_assert_uint_eq(m.sec_off[DNS_SEC_ANSWER], p.n);
	p.b[p.n - 5] = 0xc0;	/* the second name's root becomes a pointer into the header */
	ck_assert_int_eq(parse_exact(&p, &m), DNS_E_QUESTION);

	/* BADVERS needs the extended rcode bits. */
	make_query(&p, false);
	p.b[2] |= DNS_F_QR >> 8;
	p.b[11] = 1;
	pkt_hex(&p, "00 0029 04d0 01000000 0000");
	ck_assert_int_eq(parse_exact(&p, &m), DNS_OK);
	ck_assert_uint_eq(dns_msg_rcode(&m), DNS_R_BADVERS);
}
END_TEST

START_TEST(test_parse_question_only)
{
	struct pkt p;
	struct dns_msg m;
	struct dns_rr rr;
	size_t pos = 0;

	make_query(&p, false);
	p.b[7] = 5;	/* five answers announced, none present */
	ck_assert_int_eq(parse_exact(&p, &m), DNS_E_RR);
	ck_assert_int_eq(dns_parse_question_only(p.b, p.n, &m), DNS_OK);
	ck_assert(m.has_question);
	ck_assert(!m.walked);
	ck_assert_uint_eq(m.q.qtype, DNS_T_A);
	ck_assert_uint_eq(m.count[DNS_SEC_ANSWER], 5);
	assert_name_text(&m.q.name, "kratos.webdevelop.internal");
	ck_assert_int_eq(dns_rr_next(&m, p.b, p.n, &pos, &rr), DNS_E_INVAL);

	pkt_header(&p, 1, 0, 0, 0, 0, 0);
	ck_assert_int_eq(dns_parse_question_only(p.b, p.n, &m), DNS_OK);
	ck_assert(!m.has_question);
}
END_TEST

/* --- RDATA ------------------------------------------------------------------------------ */

/* Appends a spec: "@a.b" a full name, "#a.b" labels without the root, anything else hex. */
static void
pkt_spec(struct pkt *p, const char *spec)
{
	char tok[256];

	while (*spec != '\0') {
		size_t n = strcspn(spec, " ");

		ck_assert_uint_lt(n, sizeof(tok));
		memcpy(tok, spec, n);
		tok[n] = '\0';
		if (tok[0] == '@')
			pkt_name(p, tok + 1);
		else if (tok[0] == '#')
			pkt_labels(p, tok + 1);
		else
			pkt_hex(p, tok);
		spec += n;
		while (*spec == ' ')
			spec++;
	}
}

struct rdata_case {
	uint16_t	 type;
	uint16_t	 rclass;
	const char	*rdata;		/* as sent, example.com is at offset 12 */
	const char	*expanded;	/* or NULL: expansion fails with err */
	int		 err;
};

/* A message asking for example.com, answered with one RR per case (owner C0 0C). */
static void
make_rdata_msg(struct pkt *p, const struct rdata_case *cases, size_t n)
{
	pkt_header(p, 3, DNS_F_QR, 1, (unsigned int)n, 0, 0);
	pkt_name(p, "example.com");
	pkt_u16(p, DNS_T_ANY);
	pkt_u16(p, DNS_C_IN);
	for (size_t i = 0; i < n; i++) {
		struct pkt rd = { .n = 0 };

		pkt_spec(&rd, cases[i].rdata);
		pkt_hex(p, "c00c");
		pkt_rr(p, cases[i].type, cases[i].rclass, 60, (unsigned int)rd.n);
		pkt_bytes(p, rd.b, rd.n);
	}
}

static const struct rdata_case good_rdata[] = {
	{ DNS_T_NS, DNS_C_IN, "#ns1 c00c", "@ns1.example.com", 0 },
	{ DNS_T_CNAME, DNS_C_IN, "#www c00c", "@www.example.com", 0 },
	{ DNS_T_PTR, DNS_C_IN, "c00c", "@example.com", 0 },
	{ DNS_T_MX, DNS_C_IN, "000a #mail c00c", "000a @mail.example.com", 0 },
	{ DNS_T_SOA, DNS_C_IN,
	    "#ns1 c00c #hostmaster c00c 78a39d75 00001c20 00000e10 00127500 0000012c",
	    "@ns1.example.com @hostmaster.example.com 78a39d75 00001c20 00000e10 00127500 0000012c",
	    0 },
	{ DNS_T_SRV, DNS_C_IN, "0001 0002 01bb #host c00c", "0001 0002 01bb @host.example.com", 0 },
	{ DNS_T_MINFO, DNS_C_IN, "c00c #err c00c", "@example.com @err.example.com", 0 },
	{ DNS_T_RP, DNS_C_IN, "#mbox c00c #txt c00c", "@mbox.example.com @txt.example.com", 0 },
	{ DNS_T_AFSDB, DNS_C_IN, "0001 #afs c00c", "0001 @afs.example.com", 0 },
	{ DNS_T_RT, DNS_C_IN, "000a c00c", "000a @example.com", 0 },
	{ DNS_T_PX, DNS_C_IN, "000a c00c #x400 c00c", "000a @example.com @x400.example.com", 0 },
	{ DNS_T_NAPTR, DNS_C_IN, "0064 000a 0175 074532552b736970 00 #sip c00c",
	    "0064 000a 0175 074532552b736970 00 @sip.example.com", 0 },
	{ DNS_T_A, DNS_C_IN, "0a820064", "0a820064", 0 },
	{ DNS_T_AAAA, DNS_C_IN, "20010db8000000000000000000000001",
	    "20010db8000000000000000000000001", 0 },
	{ DNS_T_TXT, DNS_C_IN, "0568656c6c6f", "0568656c6c6f", 0 },
	/* Unknown types are opaque: a pointer-looking pair stays as it is (RFC 3597). */
	{ 65280, DNS_C_IN, "c00c", "c00c", 0 },
	{ DNS_T_DNAME, DNS_C_IN, "c00c", "c00c", 0 },
	/* A in class CH is not 4 bytes (it is class-specific). */
	{ DNS_T_A, DNS_C_CH, "c00c 0123", "c00c 0123", 0 },
	/* Names in RDATA may be uncompressed too; and the root. */
	{ DNS_T_CNAME, DNS_C_IN, "@a.b", "@a.b", 0 },
	{ DNS_T_MX, DNS_C_IN, "0000 00", "0000 00", 0 },
};

static const struct rdata_case bad_rdata[] = {
	{ DNS_T_A, DNS_C_IN, "", NULL, DNS_E_RDATA },
	{ DNS_T_A, DNS_C_IN, "0a0000", NULL, DNS_E_RDATA },
	{ DNS_T_A, DNS_C_IN, "0a00000102", NULL, DNS_E_RDATA },
	{ DNS_T_AAAA, DNS_C_IN, "", NULL, DNS_E_RDATA },
	{ DNS_T_AAAA, DNS_C_IN, "0a000001", NULL, DNS_E_RDATA },
	{ DNS_T_MX, DNS_C_IN, "000a", NULL, DNS_E_RDATA },
	{ DNS_T_MX, DNS_C_IN, "00", NULL, DNS_E_RDATA },
	{ DNS_T_MX, DNS_C_IN, "000a c00c 00", NULL, DNS_E_RDATA },
	{ DNS_T_SRV, DNS_C_IN, "0001 0002 01", NULL, DNS_E_RDATA },
	{ DNS_T_SRV, DNS_C_IN, "0001 0002 01bb", NULL, DNS_E_RDATA },
	{ DNS_T_SOA, DNS_C_IN, "c00c c00c 78a39d75 00001c20 00000e10 00127500 000001", NULL,
	    DNS_E_RDATA },
	{ DNS_T_SOA, DNS_C_IN, "c00c c00c 78a39d75 00001c20 00000e10 00127500 0000012c 00",
	    NULL, DNS_E_RDATA },
	{ DNS_T_SOA, DNS_C_IN, "c00c", NULL, DNS_E_RDATA },
	{ DNS_T_CNAME, DNS_C_IN, "", NULL, DNS_E_RDATA },
	{ DNS_T_CNAME, DNS_C_IN, "#www", NULL, DNS_E_RDATA },
	{ DNS_T_CNAME, DNS_C_IN, "c00c 00", NULL, DNS_E_RDATA },
	{ DNS_T_CNAME, DNS_C_IN, "ffff", NULL, DNS_E_POINTER },
	{ DNS_T_CNAME, DNS_C_IN, "c004", NULL, DNS_E_POINTER },
	{ DNS_T_CNAME, DNS_C_IN, "4161 00", NULL, DNS_E_LABEL },
	{ DNS_T_PTR, DNS_C_IN, "c0", NULL, DNS_E_RDATA },
	{ DNS_T_NAPTR, DNS_C_IN, "0064 000a 05 7500", NULL, DNS_E_RDATA },
	{ DNS_T_NAPTR, DNS_C_IN, "0064 000a 01 75", NULL, DNS_E_RDATA },
};

START_TEST(test_rdata_expand_types)
{
	struct pkt p, want;
	struct dns_msg m;
	struct dns_rr rr;
	size_t pos, outlen, i = 0;
	uint8_t out[DNS_EXPAND_MAX], *buf, *tight;

	make_rdata_msg(&p, good_rdata, nitems(good_rdata));
	buf = exact(&p);
	ck_assert_int_eq(dns_parse(buf, p.n, &m), DNS_OK);
	pos = m.sec_off[DNS_SEC_ANSWER];
	while (dns_rr_next(&m, buf, p.n, &pos, &rr) == 1) {
		want.n = 0;
		pkt_spec(&want, good_rdata[i].expanded);
		ck_assert_msg(dns_rdata_expand(buf, p.n, &rr, out, sizeof(out), &outlen) == DNS_OK,
		    "case %zu (type %u)", i, rr.type);
		ck_assert_uint_eq(outlen, want.n);
		ck_assert_mem_eq(out, want.b, want.n);
		/* Validation only gives the same length. */
		ck_assert_int_eq(dns_rdata_expand(buf, p.n, &rr, NULL, 0, &outlen), DNS_OK);
		ck_assert_uint_eq(outlen, want.n);
		/* An exact buffer works, one byte less does not. */
		tight = malloc(want.n);
		ck_assert_int_eq(dns_rdata_expand(buf, p.n, &rr, tight, want.n, &outlen), DNS_OK);
		ck_assert_mem_eq(tight, want.b, want.n);
		if (want.n > 0)
			ck_assert_int_eq(dns_rdata_expand(buf, p.n, &rr, tight, want.n - 1, &outlen),
			    DNS_E_SPACE);
		free(tight);
		i++;
	}
	ck_assert_uint_eq(i, nitems(good_rdata));
	free(buf);
}
END_TEST

START_TEST(test_rdata_expand_rejects)
{
	struct pkt p;
	struct dns_msg m;
	struct dns_rr rr;
	size_t pos, outlen, i = 0;
	uint8_t out[DNS_EXPAND_MAX], *buf;

	make_rdata_msg(&p, bad_rdata, nitems(bad_rdata));
	buf = exact(&p);
	ck_assert_int_eq(dns_parse(buf, p.n, &m), DNS_OK);
	pos = m.sec_off[DNS_SEC_ANSWER];
	while (dns_rr_next(&m, buf, p.n, &pos, &rr) == 1) {
		ck_assert_msg(dns_rdata_expand(buf, p.n, &rr, out, sizeof(out), &outlen) ==
		    bad_rdata[i].err, "case %zu (type %u)", i, rr.type);
		ck_assert_uint_eq(outlen, 0);
		i++;
	}
	ck_assert_uint_eq(i, nitems(bad_rdata));

	/* A name that continues past RDLENGTH into what follows (trailing bytes here). */
	pkt_header(&p, 3, DNS_F_QR, 1, 1, 0, 0);
	pkt_name(&p, "example.com");
	pkt_u16(&p, DNS_T_CNAME);
	pkt_u16(&p, DNS_C_IN);
	pkt_hex(&p, "c00c");
	pkt_rr(&p, DNS_T_CNAME, DNS_C_IN, 60, 2);
	pkt_hex(&p, "03 77 7777 c00c");
	free(buf);
	buf = exact(&p);
	ck_assert_int_eq(dns_parse(buf, p.n, &m), DNS_OK);
	ck_assert_uint_eq(m.trailing, 4);
	pos = m.sec_off[DNS_SEC_ANSWER];
	ck_assert_int_eq(dns_rr_next(&m, buf, p.n, &pos, &rr), 1);
	ck_assert_int_eq(dns_rdata_expand(buf, p.n, &rr, out, sizeof(out), &outlen), DNS_E_RDATA);
	/* An RR whose offsets do not fit the buffer given. */
	ck_assert_int_eq(dns_rdata_expand(buf, rr.rdata_offset + 1, &rr, out, sizeof(out),
	    &outlen), DNS_E_TRUNCATED);
	ck_assert_int_eq(dns_rdata_expand(buf, p.n, &rr, NULL, 5, &outlen), DNS_E_INVAL);
	free(buf);
}
END_TEST

START_TEST(test_soa_helpers)
{
	struct pkt p;
	struct dns_msg m;
	struct dns_rr rr;
	struct dns_soa soa;
	size_t pos, n;
	uint8_t rd[DNS_EXPAND_MAX];

	make_rdata_msg(&p, &good_rdata[4], 1);
	ck_assert_int_eq(dns_parse(p.b, p.n, &m), DNS_OK);
	pos = m.sec_off[DNS_SEC_ANSWER];
	ck_assert_int_eq(dns_rr_next(&m, p.b, p.n, &pos, &rr), 1);
	ck_assert_uint_eq(rr.type, DNS_T_SOA);
	ck_assert_int_eq(dns_soa_read(p.b, p.n, rr.rdata_offset, rr.rdlength, &soa), DNS_OK);
	assert_name_text(&soa.mname, "ns1.example.com");
	assert_name_text(&soa.rname, "hostmaster.example.com");
	ck_assert_uint_eq(soa.serial, 2023988597);
	ck_assert_uint_eq(soa.refresh, 7200);
	ck_assert_uint_eq(soa.retry, 3600);
	ck_assert_uint_eq(soa.expire, 1209600);
	ck_assert_uint_eq(soa.minimum, 300);
	ck_assert_uint_eq(dns_soa_negative_ttl(rr.ttl, &soa), 60);
	ck_assert_uint_eq(dns_soa_negative_ttl(3600, &soa), 300);

	/* The same from the expanded form. */
	ck_assert_int_eq(dns_rdata_expand(p.b, p.n, &rr, rd, sizeof(rd), &n), DNS_OK);
	memset(&soa, 0, sizeof(soa));
	ck_assert_int_eq(dns_soa_read(rd, n, 0, n, &soa), DNS_OK);
	ck_assert_uint_eq(soa.minimum, 300);
	assert_name_text(&soa.rname, "hostmaster.example.com");
	/* One byte short, one too many, past the buffer. */
	ck_assert_int_eq(dns_soa_read(rd, n, 0, n - 1, &soa), DNS_E_RDATA);
	rd[n] = 0;
	ck_assert_int_eq(dns_soa_read(rd, n + 1, 0, n + 1, &soa), DNS_E_RDATA);
	ck_assert_int_eq(dns_soa_read(rd, n, 1, n, &soa), DNS_E_TRUNCATED);
}
END_TEST

/* --- building --------------------------------------------------------------------------- */

START_TEST(test_build_compression)
{
	struct pkt ref;
	struct dns_builder b;
	struct dns_name q, web;
	struct dns_msg m;
	struct dns_rr rr;
	uint8_t buf[512];
	static const uint8_t a[] = { 93, 184, 216, 34 };
	size_t len, pos;

	make_reply(&ref);
	name_of("www.example.com", &q);
	name_of("web.example.com", &web);
	ck_assert_int_eq(dns_builder_init(&b, buf, sizeof(buf), 0xbeef,
	    DNS_F_QR | DNS_F_RD | DNS_F_RA), DNS_OK);
	ck_assert_int_eq(dns_build_question(&b, &q, DNS_T_A, DNS_C_IN), DNS_OK);
	ck_assert_int_eq(dns_build_rr(&b, DNS_SEC_ANSWER, &q, DNS_T_CNAME, DNS_C_IN, 300,
	    web.wire, web.len), DNS_OK);
	ck_assert_int_eq(dns_build_rr(&b, DNS_SEC_ANSWER, &web, DNS_T_A, DNS_C_IN, 60, a,
	    sizeof(a)), DNS_OK);
	len = dns_builder_finish(&b);
	/* Uncompressed this would be 33 + (17+10+17) + (17+10+4) = 108 bytes. */
	ck_assert_uint_eq(len, 67);
	/* Byte for byte what the hand-made reply has (its header counts differ). */
	ck_assert_mem_eq(buf + 12, ref.b + 12, 67 - 12);
	ck_assert_uint_eq(buf[7], 2);

	ck_assert_int_eq(dns_parse(buf, len, &m), DNS_OK);
	pos = m.sec_off[DNS_SEC_ANSWER];
	ck_assert_int_eq(dns_rr_next(&m, buf, len, &pos, &rr), 1);
	assert_name_text(&rr.name, "www.example.com");
	ck_assert_int_eq(dns_rr_next(&m, buf, len, &pos, &rr), 1);
	assert_name_text(&rr.name, "web.example.com");
}
END_TEST

START_TEST(test_build_rdata_names)
{
	struct dns_builder b;
	struct dns_name zone, srv, mx;
	struct pkt rd, full;
	uint8_t buf[512];
	size_t len, before;

	name_of("example.com", &zone);
	name_of("_sip._tcp.example.com", &srv);
	ck_assert_int_eq(dns_builder_init(&b, buf, sizeof(buf), 1, DNS_F_QR), DNS_OK);
	ck_assert_int_eq(dns_build_question(&b, &zone, DNS_T_MX, DNS_C_IN), DNS_OK);
	/* MX target compresses against the question: 2 + "mail" + pointer = 9 bytes. */
	rd.n = 0;
	pkt_spec(&rd, "000a @mail.example.com");
	before = b.len;
	ck_assert_int_eq(dns_build_rr(&b, DNS_SEC_ANSWER, &zone, DNS_T_MX, DNS_C_IN, 60, rd.b,
	    rd.n), DNS_OK);
	ck_assert_uint_eq(b.len - before, 2 + 10 + 9);
	ck_assert_mem_eq(buf + b.len - 9, "\000\012\004mail\300\014", 9);
	/* SRV targets are never compressed (RFC 2782), though the owner is. */
	rd.n = 0;
	pkt_spec(&rd, "0001 0002 13c4 @sip.example.com");
	before = b.len;
	ck_assert_int_eq(dns_build_rr(&b, DNS_SEC_ANSWER, &srv, DNS_T_SRV, DNS_C_IN, 60, rd.b,
	    rd.n), DNS_OK);
	full.n = 0;
	pkt_spec(&full, "@sip.example.com");
	ck_assert_mem_eq(buf + b.len - full.n, full.b, full.n);
	ck_assert_uint_eq(b.len - before, 12 + 10 + 6 + full.n);	/* _sip._tcp + pointer */
	/* Malformed self-contained RDATA is refused and nothing is written. */
	before = b.len;
	ck_assert_int_eq(dns_build_rr(&b, DNS_SEC_ANSWER, &zone, DNS_T_MX, DNS_C_IN, 60, rd.b, 1),
	    DNS_E_RDATA);
	ck_assert_int_eq(dns_build_rr(&b, DNS_SEC_ANSWER, &zone, DNS_T_A, DNS_C_IN, 60, rd.b, 3),
	    DNS_E_RDATA);
	/* A compression pointer inside self-contained RDATA is malformed too. */
	ck_assert_int_eq(dns_build_rr(&b, DNS_SEC_ANSWER, &zone, DNS_T_CNAME, DNS_C_IN, 60,
	    (const uint8_t *)"\300\014", 2), DNS_E_RDATA);
	ck_assert_uint_eq(b.len, before);
	ck_assert(!b.truncated);
	/* NAPTR: character-strings copied, the replacement name never compressed. */
	rd.n = 0;
	pkt_spec(&rd, "0064 000a 0175 074532552b736970 00 @sip.example.com");
	ck_assert_int_eq(dns_build_rr(&b, DNS_SEC_ADDITIONAL, &zone, DNS_T_NAPTR, DNS_C_IN, 60,
	    rd.b, rd.n), DNS_OK);
	ck_assert_mem_eq(buf + b.len - rd.n, rd.b, rd.n);
	ck_assert_int_eq(dns_build_rr(&b, DNS_SEC_ADDITIONAL, &zone, DNS_T_NAPTR, DNS_C_IN, 60,
	    rd.b, 5), DNS_E_RDATA);
	ck_assert_int_eq(dns_build_rr(&b, DNS_SEC_ADDITIONAL, &zone, DNS_T_NAPTR, DNS_C_IN, 60,
	    rd.b, 4), DNS_E_RDATA);
	name_of("mail.example.com", &mx);
	len = dns_builder_finish(&b);
	{
		struct dns_msg m;
		struct dns_rr rr;
		size_t pos, n;
		uint8_t out[DNS_EXPAND_MAX];

		ck_assert_int_eq(dns_parse(buf, len, &m), DNS_OK);
		ck_assert_uint_eq(m.count[DNS_SEC_ANSWER], 2);
		ck_assert_uint_eq(m.count[DNS_SEC_ADDITIONAL], 1);
		pos = m.sec_off[DNS_SEC_ANSWER];
		ck_assert_int_eq(dns_rr_next(&m, buf, len, &pos, &rr), 1);
		ck_assert_int_eq(dns_rdata_expand(buf, len, &rr, out, sizeof(out), &n), DNS_OK);
		ck_assert_uint_eq(n, 2 + mx.len);
		ck_assert_mem_eq(out + 2, mx.wire, mx.len);
	}
}
END_TEST

START_TEST(test_build_truncation_512)
{
	struct dns_builder b;
	struct dns_name q;
	struct dns_msg m;
	uint8_t txt[200], *buf;
	size_t len;

	memset(txt, 'x', sizeof(txt));
	txt[0] = 199;
	name_of("big.example", &q);
	/* Exactly 512 bytes of heap: a single byte written past them is an ASan report. */
	buf = malloc(512);
	ck_assert_int_eq(dns_builder_init(&b, buf, 512, 7, DNS_F_QR | DNS_F_AA), DNS_OK);
	ck_assert_int_eq(dns_build_question(&b, &q, DNS_T_TXT, DNS_C_IN), DNS_OK);
	ck_assert_uint_eq(b.len, 29);
	ck_assert_int_eq(dns_build_rr(&b, DNS_SEC_ANSWER, &q, DNS_T_TXT, DNS_C_IN, 0, txt,
	    sizeof(txt)), DNS_OK);
	ck_assert_int_eq(dns_build_rr(&b, DNS_SEC_ANSWER, &q, DNS_T_TXT, DNS_C_IN, 0, txt,
	    sizeof(txt)), DNS_OK);
	ck_assert_uint_eq(b.len, 29 + 2 * 212);
	ck_assert(!b.truncated);
	ck_assert_int_eq(dns_build_rr(&b, DNS_SEC_ANSWER, &q, DNS_T_TXT, DNS_C_IN, 0, txt,
	    sizeof(txt)), DNS_E_SPACE);
	ck_assert(b.truncated);
	ck_assert_uint_eq(b.len, 29 + 2 * 212);	/* the partial RR was taken back */
	ck_assert_uint_eq(b.count[DNS_SEC_ANSWER], 2);

	/* What dnsmasq sends: TC=1, the question, no records; EDNS may still follow. */
	dns_builder_truncate(&b);
	ck_assert_int_eq(dns_build_opt(&b, 1232, 0, 0, 0, NULL, 0), DNS_OK);
	len = dns_builder_finish(&b);
	ck_assert_uint_eq(len, 29 + DNS_OPT_FIXED);
	ck_assert_int_eq(dns_parse(buf, len, &m), DNS_OK);
	ck_assert(m.flags & DNS_F_TC);
	ck_assert(m.flags & DNS_F_AA);
	ck_assert_uint_eq(m.count[DNS_SEC_ANSWER], 0);
	ck_assert_uint_eq(m.count[DNS_SEC_ADDITIONAL], 1);
	ck_assert(m.edns.present);
	assert_name_text(&m.q.name, "big.example");

	/* An RR that ends exactly at the limit fits; nothing fits after it. */
	ck_assert_int_eq(dns_builder_init(&b, buf, 512, 7, DNS_F_QR), DNS_OK);
	ck_assert_int_eq(dns_build_question(&b, &q, DNS_T_NULL, DNS_C_IN), DNS_OK);
	{
		uint8_t *big = calloc(1, 512);

		ck_assert_int_eq(dns_build_rr(&b, DNS_SEC_ANSWER, &q, DNS_T_NULL, DNS_C_IN, 0, big,
		    512 - 29 - 12 + 1), DNS_E_SPACE);
		ck_assert_int_eq(dns_build_rr(&b, DNS_SEC_ANSWER, &q, DNS_T_NULL, DNS_C_IN, 0, big,
		    512 - 29 - 12), DNS_OK);
		ck_assert_uint_eq(b.len, 512);
		ck_assert_int_eq(dns_build_rr(&b, DNS_SEC_ADDITIONAL, &q, DNS_T_NULL, DNS_C_IN, 0,
		    big, 0), DNS_E_SPACE);
		ck_assert_int_eq(dns_build_opt(&b, 512, 0, 0, 0, NULL, 0), DNS_E_SPACE);
		ck_assert_uint_eq(dns_builder_finish(&b), 512);
		ck_assert_int_eq(dns_parse(buf, 512, &m), DNS_OK);
		free(big);
	}

	/* Space reserved for the OPT RR is kept free until the OPT RR is written. */
	ck_assert_int_eq(dns_builder_init(&b, buf, 512, 7, DNS_F_QR), DNS_OK);
	ck_assert_int_eq(dns_build_question(&b, &q, DNS_T_TXT, DNS_C_IN), DNS_OK);
	ck_assert_int_eq(dns_builder_reserve(&b, DNS_OPT_FIXED), DNS_OK);
	{
		uint8_t *big = calloc(1, 512);

		ck_assert_int_eq(dns_build_rr(&b, DNS_SEC_ANSWER, &q, DNS_T_NULL, DNS_C_IN, 0, big,
		    512 - 29 - 12), DNS_E_SPACE);
		ck_assert_int_eq(dns_build_rr(&b, DNS_SEC_ANSWER, &q, DNS_T_NULL, DNS_C_IN, 0, big,
		    512 - 29 - 12 - DNS_OPT_FIXED), DNS_OK);
		free(big);
	}
	ck_assert_int_eq(dns_build_opt(&b, 1232, 0, 0, DNS_EDNS_DO, NULL, 0), DNS_OK);
	ck_assert_uint_eq(dns_builder_finish(&b), 512);
	ck_assert_int_eq(dns_builder_reserve(&b, 1), DNS_E_SPACE);
	free(buf);
}
END_TEST

START_TEST(test_build_opt_ede)
{
	struct dns_builder b;
	struct dns_name q;
	struct dns_msg m;
	uint8_t buf[512], opts[64];
	const uint8_t *data;
	uint16_t code, dlen;
	size_t ol = 0, len, pos = 0;

	ck_assert_int_eq(dns_opt_append_ede(opts, sizeof(opts), &ol, DNS_EDE_BLOCKED,
	    "blocked by policy"), DNS_OK);
	ck_assert_uint_eq(ol, 4 + 2 + 17);
	ck_assert_mem_eq(opts, "\000\017\000\023\000\017blocked", 13);
	ck_assert_int_eq(dns_opt_append_ede(opts, sizeof(opts), &ol, DNS_EDE_NOT_READY, NULL),
	    DNS_OK);
	ck_assert_uint_eq(ol, 23 + 6);
	ck_assert_int_eq(dns_opt_append(opts, sizeof(opts), &ol, DNS_OPT_PADDING, "\0\0\0\0\0",
	    5), DNS_OK);
	ck_assert_uint_eq(ol, 29 + 9);
	/* Options that do not fit are refused and the length is kept. */
	ck_assert_int_eq(dns_opt_append(opts, sizeof(opts), &ol, DNS_OPT_PADDING, buf, 30),
	    DNS_E_SPACE);
	ck_assert_int_eq(dns_opt_append_ede(opts, sizeof(opts), &ol, 0, "0123456789012345678901"),
	    DNS_E_SPACE);
	ck_assert_uint_eq(ol, 38);

	name_of("ads.example", &q);
	ck_assert_int_eq(dns_builder_init(&b, buf, sizeof(buf), 77, DNS_F_QR | DNS_R_REFUSED),
	    DNS_OK);
	ck_assert_int_eq(dns_build_question(&b, &q, DNS_T_A, DNS_C_IN), DNS_OK);
	ck_assert_int_eq(dns_build_opt(&b, 1232, 0, 0, DNS_EDNS_DO, opts, ol), DNS_OK);
	ck_assert_int_eq(dns_build_opt(&b, 1232, 0, 0, 0, NULL, 0), DNS_E_INVAL);
	len = dns_builder_finish(&b);
	ck_assert_int_eq(dns_parse(buf, len, &m), DNS_OK);
	ck_assert_uint_eq(dns_msg_rcode(&m), DNS_R_REFUSED);
	ck_assert(m.edns.present);
	ck_assert_uint_eq(m.edns.udp_size, 1232);
	ck_assert_uint_eq(m.edns.flags, DNS_EDNS_DO);
	ck_assert_uint_eq(m.edns.opt_len, ol);
	ck_assert_int_eq(dns_opt_next(buf + m.edns.opt_offset, m.edns.opt_len, &pos, &code, &data,
	    &dlen), 1);
	ck_assert_uint_eq(code, DNS_OPT_EDE);
	ck_assert_uint_eq(dlen, 19);
	ck_assert_mem_eq(data, "\000\017blocked by policy", 19);
	ck_assert_int_eq(dns_opt_next(buf + m.edns.opt_offset, m.edns.opt_len, &pos, &code, &data,
	    &dlen), 1);
	ck_assert_uint_eq(code, DNS_OPT_EDE);
	ck_assert_uint_eq(dlen, 2);
	ck_assert_mem_eq(data, "\000\016", 2);

	/* Extended rcode and malformed options. */
	ck_assert_int_eq(dns_builder_init(&b, buf, sizeof(buf), 1, DNS_F_QR), DNS_OK);
	ck_assert_int_eq(dns_build_opt(&b, 512, 0, 0, 0, (const uint8_t *)"\000\012\000\020\001", 5),
	    DNS_E_INVAL);
	ck_assert_int_eq(dns_build_opt(&b, 512, 1, 0, 0, NULL, 0), DNS_OK);
	len = dns_builder_finish(&b);
	ck_assert_int_eq(dns_parse(buf, len, &m), DNS_OK);
	ck_assert_uint_eq(dns_msg_rcode(&m), DNS_R_BADVERS);
}
END_TEST

START_TEST(test_build_order_and_args)
{
	struct dns_builder b;
	struct dns_name q, bad, root;
	uint8_t buf[512], big[100000];
	static const uint8_t a[] = { 10, 130, 0, 1 };

	name_of("kratos.webdevelop.internal", &q);
	name_of(".", &root);
	ck_assert_int_eq(dns_builder_init(&b, buf, 11, 1, 0), DNS_E_SPACE);
	ck_assert_int_eq(dns_build_question(&b, &q, DNS_T_A, DNS_C_IN), DNS_E_INVAL);
	ck_assert_uint_eq(dns_builder_finish(&b), 0);
	ck_assert_int_eq(dns_builder_init(&b, big, sizeof(big), 1, 0), DNS_OK);
	ck_assert_uint_eq(b.size, 65535);
	/* A question that does not fit is reported like an RR that does not. */
	ck_assert_int_eq(dns_builder_init(&b, buf, 30, 1, 0), DNS_OK);
	ck_assert_int_eq(dns_build_question(&b, &q, DNS_T_A, DNS_C_IN), DNS_E_SPACE);
	ck_assert(b.truncated);
	ck_assert_uint_eq(dns_builder_finish(&b), DNS_HEADER_LEN);
	/* And an RR whose RDATA name does not fit leaves nothing behind. */
	ck_assert_int_eq(dns_builder_init(&b, buf, 12 + 2 + 10 + 20, 1, 0), DNS_OK);
	ck_assert_int_eq(dns_build_rr(&b, DNS_SEC_ANSWER, &root, DNS_T_CNAME, DNS_C_IN,
	    0, q.wire, q.len), DNS_E_SPACE);
	ck_assert_uint_eq(b.len, DNS_HEADER_LEN);

	ck_assert_int_eq(dns_builder_init(&b, buf, sizeof(buf), 1, DNS_F_QR), DNS_OK);
	ck_assert_int_eq(dns_build_question(&b, &q, DNS_T_A, DNS_C_IN), DNS_OK);
	ck_assert_int_eq(dns_build_rr(&b, DNS_SEC_AUTHORITY, &q, DNS_T_A, DNS_C_IN, 0, a, 4),
	    DNS_OK);
	/* Back to the answer section, or a question after records: refused. */
	ck_assert_int_eq(dns_build_rr(&b, DNS_SEC_ANSWER, &q, DNS_T_A, DNS_C_IN, 0, a, 4),
	    DNS_E_INVAL);
	ck_assert_int_eq(dns_build_question(&b, &q, DNS_T_A, DNS_C_IN), DNS_E_INVAL);
	ck_assert_int_eq(dns_build_rr(&b, DNS_SEC_QUESTION, &q, DNS_T_A, DNS_C_IN, 0, a, 4),
	    DNS_E_INVAL);
	/* OPT only through dns_build_opt; records after it only in the additional section. */
	ck_assert_int_eq(dns_build_rr(&b, DNS_SEC_ADDITIONAL, &q, DNS_T_OPT, 512, 0, NULL, 0),
	    DNS_E_INVAL);
	ck_assert_int_eq(dns_build_opt(&b, 1232, 0, 0, 0, NULL, 0), DNS_OK);
	ck_assert_int_eq(dns_build_rr(&b, DNS_SEC_AUTHORITY, &q, DNS_T_A, DNS_C_IN, 0, a, 4),
	    DNS_E_INVAL);
	ck_assert_int_eq(dns_build_rr(&b, DNS_SEC_ADDITIONAL, &q, DNS_T_A, DNS_C_IN, 0, a, 4),
	    DNS_OK);
	/* A malformed name struct. */
	memset(&bad, 0x3f, sizeof(bad));
	ck_assert_int_eq(dns_build_rr(&b, DNS_SEC_ADDITIONAL, &bad, DNS_T_A, DNS_C_IN, 0, a, 4),
	    DNS_E_INVAL);
	ck_assert_int_eq(dns_build_rr(&b, DNS_SEC_ADDITIONAL, &q, DNS_T_A, DNS_C_IN, 0, NULL, 4),
	    DNS_E_INVAL);
	ck_assert(!b.truncated);
}
END_TEST

START_TEST(test_build_copy_reply)
{
	struct pkt p;
	struct dns_msg m, m2;
	struct dns_rr rr, rr2;
	struct dns_builder b;
	uint8_t *out, e1[DNS_EXPAND_MAX], e2[DNS_EXPAND_MAX];
	size_t pos, pos2, len, n1, n2, copied = 0;
	int ret;

	make_reply(&p);
	ck_assert_int_eq(dns_parse(p.b, p.n, &m), DNS_OK);
	out = malloc(DNS_MAXMSG);
	ck_assert_int_eq(dns_builder_init(&b, out, DNS_MAXMSG, m.id, m.flags), DNS_OK);
	ck_assert_int_eq(dns_build_question(&b, &m.q.name, m.q.qtype, m.q.qclass), DNS_OK);
	pos = m.sec_off[DNS_SEC_ANSWER];
	while (dns_rr_next(&m, p.b, p.n, &pos, &rr) == 1) {
		ret = dns_build_rr_copy(&b, rr.section, p.b, p.n, &rr);
		if (rr.type == DNS_T_OPT) {
			ck_assert_int_eq(ret, DNS_E_INVAL);
			continue;
		}
		ck_assert_int_eq(ret, DNS_OK);
		copied++;
	}
	ck_assert_uint_eq(copied, 4);
	ck_assert_int_eq(dns_build_opt(&b, m.edns.udp_size, 0, 0, m.edns.flags, NULL, 0), DNS_OK);
	len = dns_builder_finish(&b);
	ck_assert_uint_eq(len, p.n);	/* the same compression as the hand-made reply */
	ck_assert_mem_eq(out, p.b, p.n);

	/* Record by record, the expanded RDATA is identical. */
	ck_assert_int_eq(dns_parse(out, len, &m2), DNS_OK);
	pos = m.sec_off[DNS_SEC_ANSWER];
	pos2 = m2.sec_off[DNS_SEC_ANSWER];
	while (dns_rr_next(&m, p.b, p.n, &pos, &rr) == 1) {
		ck_assert_int_eq(dns_rr_next(&m2, out, len, &pos2, &rr2), 1);
		ck_assert(dns_name_equal(&rr.name, &rr2.name));
		ck_assert_uint_eq(rr.type, rr2.type);
		ck_assert_uint_eq(rr.ttl, rr2.ttl);
		ck_assert_int_eq(rr.section, rr2.section);
		ck_assert_int_eq(dns_rdata_expand(p.b, p.n, &rr, e1, sizeof(e1), &n1), DNS_OK);
		ck_assert_int_eq(dns_rdata_expand(out, len, &rr2, e2, sizeof(e2), &n2), DNS_OK);
		ck_assert_uint_eq(n1, n2);
		ck_assert_mem_eq(e1, e2, n1);
	}

	/* A changed TTL on a copy of the rr is what gets written. */
	pos = m.sec_off[DNS_SEC_ANSWER];
	ck_assert_int_eq(dns_rr_next(&m, p.b, p.n, &pos, &rr), 1);
	rr.ttl = 5;
	ck_assert_int_eq(dns_builder_init(&b, out, 512, 1, DNS_F_QR), DNS_OK);
	ck_assert_int_eq(dns_build_rr_copy(&b, DNS_SEC_ANSWER, p.b, p.n, &rr), DNS_OK);
	len = dns_builder_finish(&b);
	ck_assert_int_eq(dns_parse(out, len, &m2), DNS_OK);
	pos2 = m2.sec_off[DNS_SEC_ANSWER];
	ck_assert_int_eq(dns_rr_next(&m2, out, len, &pos2, &rr2), 1);
	ck_assert_uint_eq(rr2.ttl, 5);
	assert_name_text(&rr2.name, "www.example.com");
	free(out);
}
END_TEST

START_TEST(test_build_compression_limits)
{
	struct dns_builder b;
	struct dns_name n, late;
	struct dns_msg m;
	struct dns_rr rr;
	uint8_t *out, *pad;
	char text[32];
	size_t len, pos, before;
	int count = 0;

	out = malloc(DNS_MAXMSG);
	pad = calloc(1, 20000);
	/* Names first written beyond offset 0x3fff cannot be pointer targets. */
	name_of("pad.example", &n);
	name_of("late.test", &late);
	ck_assert_int_eq(dns_builder_init(&b, out, DNS_MAXMSG, 1, DNS_F_QR), DNS_OK);
	ck_assert_int_eq(dns_build_rr(&b, DNS_SEC_ANSWER, &n, DNS_T_NULL, DNS_C_IN, 0, pad, 20000),
	    DNS_OK);
	ck_assert_int_eq(dns_build_rr(&b, DNS_SEC_ANSWER, &late, DNS_T_A, DNS_C_IN, 0, pad, 4),
	    DNS_OK);
	before = b.len;
	ck_assert_int_eq(dns_build_rr(&b, DNS_SEC_ANSWER, &late, DNS_T_A, DNS_C_IN, 0, pad, 4),
	    DNS_OK);
	ck_assert_uint_eq(b.len - before, late.len + 10 + 4);
	ck_assert_mem_eq(out + before, late.wire, late.len);
	/* But earlier names still can. */
	before = b.len;
	ck_assert_int_eq(dns_build_rr(&b, DNS_SEC_ANSWER, &n, DNS_T_A, DNS_C_IN, 0, pad, 4),
	    DNS_OK);
	ck_assert_uint_eq(b.len - before, 2 + 10 + 4);
	len = dns_builder_finish(&b);
	ck_assert_int_eq(dns_parse(out, len, &m), DNS_OK);

	/* More distinct names than the compression table holds still come out right. */
	ck_assert_int_eq(dns_builder_init(&b, out, DNS_MAXMSG, 1, DNS_F_QR), DNS_OK);
	for (int i = 0; i < 3 * DNS_COMPRESS_MAX; i++) {
		snprintf(text, sizeof(text), "h%d.zone%d.example", i, i % 7);
		name_of(text, &n);
		ck_assert_int_eq(dns_build_rr(&b, DNS_SEC_ANSWER, &n, DNS_T_A, DNS_C_IN, 0, pad, 4),
		    DNS_OK);
	}
	len = dns_builder_finish(&b);
	ck_assert_int_eq(dns_parse(out, len, &m), DNS_OK);
	pos = m.sec_off[DNS_SEC_ANSWER];
	while (dns_rr_next(&m, out, len, &pos, &rr) == 1) {
		snprintf(text, sizeof(text), "h%d.zone%d.example", count, count % 7);
		assert_name_text(&rr.name, text);
		count++;
	}
	ck_assert_int_eq(count, 3 * DNS_COMPRESS_MAX);
	free(pad);
	free(out);
}
END_TEST

START_TEST(test_build_rollback)
{
	struct dns_builder b;
	struct dns_name q, other;
	struct dns_msg m;
	struct dns_rr rr;
	uint8_t *buf, big[600] = { 0 };
	static const uint8_t a[] = { 10, 0, 0, 1 };
	size_t len, pos, before;

	buf = malloc(512);
	name_of("q.example", &q);
	name_of("a.other.test", &other);
	ck_assert_int_eq(dns_builder_init(&b, buf, 512, 1, DNS_F_QR), DNS_OK);
	ck_assert_int_eq(dns_build_question(&b, &q, DNS_T_A, DNS_C_IN), DNS_OK);
	/* The owner is written (and its labels recorded) before the RDATA turns out too big. */
	ck_assert_int_eq(dns_build_rr(&b, DNS_SEC_ANSWER, &other, DNS_T_NULL, DNS_C_IN, 0, big,
	    sizeof(big)), DNS_E_SPACE);
	before = b.len;
	ck_assert_int_eq(dns_build_rr(&b, DNS_SEC_ANSWER, &other, DNS_T_A, DNS_C_IN, 0, a, 4),
	    DNS_OK);
	/* So the next copy of the name is written in full, not as a pointer to taken-back bytes. */
	ck_assert_uint_eq(b.len - before, other.len + 10 + 4);
	ck_assert_mem_eq(buf + before, other.wire, other.len);

	/* After truncation, the dropped records' labels are forgotten too. */
	dns_builder_truncate(&b);
	before = b.len;
	ck_assert_int_eq(dns_build_rr(&b, DNS_SEC_ANSWER, &other, DNS_T_A, DNS_C_IN, 0, a, 4),
	    DNS_OK);
	ck_assert_uint_eq(b.len - before, other.len + 10 + 4);
	/* While the question's are kept: "x.q.example" compresses to "x" + pointer. */
	name_of("x.q.example", &other);
	before = b.len;
	ck_assert_int_eq(dns_build_rr(&b, DNS_SEC_ANSWER, &other, DNS_T_A, DNS_C_IN, 0, a, 4),
	    DNS_OK);
	ck_assert_uint_eq(b.len - before, 2 + 2 + 10 + 4);
	len = dns_builder_finish(&b);
	ck_assert_int_eq(dns_parse(buf, len, &m), DNS_OK);
	pos = m.sec_off[DNS_SEC_ANSWER];
	ck_assert_int_eq(dns_rr_next(&m, buf, len, &pos, &rr), 1);
	assert_name_text(&rr.name, "a.other.test");
	ck_assert_int_eq(dns_rr_next(&m, buf, len, &pos, &rr), 1);
	assert_name_text(&rr.name, "x.q.example");
	free(buf);
}
END_TEST

START_TEST(test_build_compression_budget)
{
	struct dns_builder b;
	struct dns_name n;
	struct dns_msg m;
	struct dns_rr rr;
	uint8_t *out;
	char text[32];
	size_t len, pos;
	int count = 0;

	out = malloc(DNS_MAXMSG);
	/* Hostile: 64 sibling labels of 63 bytes that differ in their last byte only, then owners
	 * that match the sibling compared last. Compression stops when the budget is spent. */
	n.wire[0] = 63;
	memset(n.wire + 1, 'q', 63);
	n.wire[64] = 0;
	n.len = 65;
	ck_assert_int_eq(dns_builder_init(&b, out, DNS_MAXMSG, 1, DNS_F_QR), DNS_OK);
	for (int i = 0; i < DNS_COMPRESS_MAX; i++) {
		n.wire[63] = (uint8_t)('A' + i);
		ck_assert_int_eq(dns_build_rr(&b, DNS_SEC_ANSWER, &n, DNS_T_NULL, DNS_C_IN, 0, NULL,
		    0), DNS_OK);
	}
	n.wire[63] = 'A';
	while (dns_build_rr(&b, DNS_SEC_ANSWER, &n, DNS_T_NULL, DNS_C_IN, 0, NULL, 0) == DNS_OK)
		count++;
	ck_assert_uint_le(b.comp_work, DNS_COMPRESS_WORK + DNS_MAXLABEL);
	/* 12 bytes per RR while the budget lasted, 75 after: fewer than the 5000+ of pointers. */
	ck_assert_int_gt(count, 1000);
	ck_assert_int_lt(count, 2000);
	len = dns_builder_finish(&b);
	ck_assert_int_eq(dns_parse(out, len, &m), DNS_OK);
	pos = m.sec_off[DNS_SEC_ANSWER];
	while (dns_rr_next(&m, out, len, &pos, &rr) == 1)
		ck_assert_uint_eq(rr.name.len, 65);

	/* Ordinary: a thousand hosts of one zone stay far below the budget, each compressed to
	 * its own label plus a pointer. */
	ck_assert_int_eq(dns_builder_init(&b, out, DNS_MAXMSG, 1, DNS_F_QR), DNS_OK);
	for (int i = 0; i < 1000; i++) {
		size_t before = b.len;

		snprintf(text, sizeof(text), "host%d.example.com", i);
		name_of(text, &n);
		ck_assert_int_eq(dns_build_rr(&b, DNS_SEC_ANSWER, &n, DNS_T_A, DNS_C_IN, 0, out, 4),
		    DNS_OK);
		if (i > 0)
			ck_assert_uint_le(b.len - before, 1 + strlen(text) - strlen(".example.com") + 2 +
			    10 + 4);
	}
	ck_assert_uint_lt(b.comp_work, DNS_COMPRESS_WORK / 4);
	free(out);
}
END_TEST

/* --- raw buffers ------------------------------------------------------------------------ */

START_TEST(test_raw_header)
{
	struct pkt p;
	struct dns_msg m;
	uint16_t id, flags;

	make_query(&p, false);
	ck_assert_int_eq(dns_get_id(p.b, p.n, &id), DNS_OK);
	ck_assert_uint_eq(id, 0x1234);
	ck_assert_int_eq(dns_set_id(p.b, p.n, 0xabcd), DNS_OK);
	ck_assert_int_eq(dns_get_id(p.b, p.n, &id), DNS_OK);
	ck_assert_uint_eq(id, 0xabcd);
	ck_assert_uint_eq(p.b[0], 0xab);

	ck_assert_int_eq(dns_set_flags(p.b, p.n, DNS_F_QR | DNS_F_RA | DNS_R_REFUSED,
	    DNS_F_RCODE | DNS_F_AD), DNS_OK);
	ck_assert_int_eq(dns_get_flags(p.b, p.n, &flags), DNS_OK);
	ck_assert_uint_eq(flags, DNS_F_QR | DNS_F_RD | DNS_F_RA | DNS_R_REFUSED);
	ck_assert_int_eq(dns_set_flags(p.b, p.n, DNS_F_TC, 0), DNS_OK);
	ck_assert_int_eq(dns_get_flags(p.b, p.n, &flags), DNS_OK);
	ck_assert(flags & DNS_F_TC);
	ck_assert_uint_eq(DNS_RCODE(flags), DNS_R_REFUSED);
	ck_assert_uint_eq(DNS_MKOPCODE(DNS_OP_NOTIFY), 0x2000);
	ck_assert_uint_eq(DNS_OPCODE(DNS_MKOPCODE(DNS_OP_UPDATE)), DNS_OP_UPDATE);

	ck_assert_int_eq(dns_set_count(p.b, p.n, DNS_SEC_ADDITIONAL, 3), DNS_OK);
	ck_assert_uint_eq(p.b[11], 3);
	ck_assert_int_eq(dns_set_count(p.b, p.n, (enum dns_section)4, 3), DNS_E_INVAL);

	ck_assert_int_eq(dns_get_id(p.b, 11, &id), DNS_E_HEADER);
	ck_assert_int_eq(dns_set_id(p.b, 11, 1), DNS_E_HEADER);
	ck_assert_int_eq(dns_get_flags(p.b, 11, &flags), DNS_E_HEADER);
	ck_assert_int_eq(dns_set_flags(p.b, 11, 1, 0), DNS_E_HEADER);
	ck_assert_int_eq(dns_set_count(p.b, 11, DNS_SEC_ANSWER, 1), DNS_E_HEADER);
	ck_assert_int_eq(dns_set_count(NULL, 12, DNS_SEC_ANSWER, 1), DNS_E_HEADER);

	/* No OPT to rewrite. */
	make_query(&p, false);
	ck_assert_int_eq(dns_parse(p.b, p.n, &m), DNS_OK);
	ck_assert_int_eq(dns_edns_set_udp_size(p.b, p.n, &m, 512), DNS_E_INVAL);
}
END_TEST

START_TEST(test_raw_ttl_and_udp_size)
{
	struct pkt p;
	struct dns_msg m;
	struct dns_rr rr;
	size_t pos;

	make_reply(&p);
	ck_assert_int_eq(dns_parse(p.b, p.n, &m), DNS_OK);
	pos = m.sec_off[DNS_SEC_ANSWER];
	ck_assert_int_eq(dns_rr_next(&m, p.b, p.n, &pos, &rr), 1);
	ck_assert_int_eq(dns_rr_set_ttl(p.b, p.n, &rr, 10), DNS_OK);
	ck_assert_mem_eq(p.b + 39, "\000\000\000\012", 4);
	ck_assert_int_eq(dns_rr_set_ttl(p.b, rr.ttl_offset + 3, &rr, 10), DNS_E_INVAL);
	ck_assert_int_eq(dns_edns_set_udp_size(p.b, p.n, &m, 512), DNS_OK);
	ck_assert_int_eq(dns_edns_set_udp_size(p.b, m.edns.offset + 4, &m, 512), DNS_E_INVAL);

	ck_assert_int_eq(dns_parse(p.b, p.n, &m), DNS_OK);
	ck_assert_uint_eq(m.edns.udp_size, 512);
	pos = m.sec_off[DNS_SEC_ANSWER];
	ck_assert_int_eq(dns_rr_next(&m, p.b, p.n, &pos, &rr), 1);
	ck_assert_uint_eq(rr.ttl, 10);
	ck_assert_int_eq(dns_rr_next(&m, p.b, p.n, &pos, &rr), 1);
	ck_assert_uint_eq(rr.ttl, 60);
}
END_TEST

/* --- text ------------------------------------------------------------------------------- */

START_TEST(test_text_names)
{
	char buf[DNS_TYPE_TEXT], small[4];
	uint16_t t;

	ck_assert_int_eq(dns_type_name(DNS_T_A, buf, sizeof(buf)), DNS_OK);
	ck_assert_str_eq(buf, "A");
	ck_assert_int_eq(dns_type_name(DNS_T_AAAA, buf, sizeof(buf)), DNS_OK);
	ck_assert_str_eq(buf, "AAAA");
	ck_assert_int_eq(dns_type_name(DNS_T_HTTPS, buf, sizeof(buf)), DNS_OK);
	ck_assert_str_eq(buf, "HTTPS");
	ck_assert_int_eq(dns_type_name(DNS_T_CAA, buf, sizeof(buf)), DNS_OK);
	ck_assert_str_eq(buf, "CAA");
	ck_assert_int_eq(dns_type_name(DNS_T_NSEC3PARAM, buf, sizeof(buf)), DNS_OK);
	ck_assert_str_eq(buf, "NSEC3PARAM");
	ck_assert_int_eq(dns_type_name(65280, buf, sizeof(buf)), DNS_OK);
	ck_assert_str_eq(buf, "TYPE65280");
	ck_assert_int_eq(dns_type_name(65535, buf, sizeof(buf)), DNS_OK);
	ck_assert_str_eq(buf, "TYPE65535");
	ck_assert_int_eq(dns_type_name(DNS_T_AAAA, small, sizeof(small)), DNS_E_SPACE);
	ck_assert_int_eq(dns_type_name(65280, small, sizeof(small)), DNS_E_SPACE);

	ck_assert_int_eq(dns_type_from_name("aaaa", &t), DNS_OK);
	ck_assert_uint_eq(t, DNS_T_AAAA);
	ck_assert_int_eq(dns_type_from_name("Svcb", &t), DNS_OK);
	ck_assert_uint_eq(t, DNS_T_SVCB);
	ck_assert_int_eq(dns_type_from_name("TYPE65280", &t), DNS_OK);
	ck_assert_uint_eq(t, 65280);
	ck_assert_int_eq(dns_type_from_name("type1", &t), DNS_OK);
	ck_assert_uint_eq(t, 1);
	ck_assert_int_eq(dns_type_from_name("TYPE65536", &t), DNS_E_SYNTAX);
	ck_assert_int_eq(dns_type_from_name("TYPE000001", &t), DNS_E_SYNTAX);
	ck_assert_int_eq(dns_type_from_name("TYPE", &t), DNS_E_SYNTAX);
	ck_assert_int_eq(dns_type_from_name("TYPE1x", &t), DNS_E_SYNTAX);
	ck_assert_int_eq(dns_type_from_name("AA", &t), DNS_E_SYNTAX);
	ck_assert_int_eq(dns_type_from_name("", &t), DNS_E_SYNTAX);

	ck_assert_int_eq(dns_class_name(DNS_C_IN, buf, sizeof(buf)), DNS_OK);
	ck_assert_str_eq(buf, "IN");
	ck_assert_int_eq(dns_class_name(DNS_C_CH, buf, sizeof(buf)), DNS_OK);
	ck_assert_str_eq(buf, "CH");
	ck_assert_int_eq(dns_class_name(2, buf, sizeof(buf)), DNS_OK);
	ck_assert_str_eq(buf, "CLASS2");

	ck_assert_int_eq(dns_rcode_name(DNS_R_NXDOMAIN, buf, sizeof(buf)), DNS_OK);
	ck_assert_str_eq(buf, "NXDOMAIN");
	ck_assert_int_eq(dns_rcode_name(DNS_R_SERVFAIL, buf, sizeof(buf)), DNS_OK);
	ck_assert_str_eq(buf, "SERVFAIL");
	ck_assert_int_eq(dns_rcode_name(DNS_R_BADVERS, buf, sizeof(buf)), DNS_OK);
	ck_assert_str_eq(buf, "BADVERS");
	ck_assert_int_eq(dns_rcode_name(11, buf, sizeof(buf)), DNS_OK);
	ck_assert_str_eq(buf, "RCODE11");
}
END_TEST

START_TEST(test_strerror)
{
	for (int a = DNS_E_INVAL; a <= DNS_OK; a++) {
		ck_assert_str_ne(dns_strerror(a), dns_strerror(1));
		for (int b = a + 1; b <= DNS_OK; b++)
			ck_assert_str_ne(dns_strerror(a), dns_strerror(b));
	}
}
END_TEST

/* --- reverse names ---------------------------------------------------------------------- */

START_TEST(test_reverse_v4)
{
	struct dns_name n;
	uint8_t addr[16];
	unsigned int parts;
	int family;
	static const uint8_t lo[16] = { 127, 0, 0, 1 };
	static const uint8_t ten[16] = { 10 };
	static const uint8_t priv[16] = { 192, 168 };

	name_of("1.0.0.127.in-addr.arpa", &n);
	ck_assert_int_eq(dns_reverse_name_to_addr(&n, &family, addr, &parts), DNS_OK);
	ck_assert_int_eq(family, AF_INET);
	ck_assert_uint_eq(parts, 4);
	ck_assert_mem_eq(addr, lo, 16);

	/* Partial names are zero-filled, as dnsmasq reads them for bogus-priv. */
	name_of("10.IN-ADDR.ARPA.", &n);
	ck_assert_int_eq(dns_reverse_name_to_addr(&n, &family, addr, &parts), DNS_OK);
	ck_assert_uint_eq(parts, 1);
	ck_assert_mem_eq(addr, ten, 16);
	name_of("168.192.in-addr.arpa", &n);
	ck_assert_int_eq(dns_reverse_name_to_addr(&n, &family, addr, &parts), DNS_OK);
	ck_assert_uint_eq(parts, 2);
	ck_assert_mem_eq(addr, priv, 16);
	name_of("in-addr.arpa", &n);
	ck_assert_int_eq(dns_reverse_name_to_addr(&n, &family, addr, &parts), DNS_OK);
	ck_assert_uint_eq(parts, 0);
	name_of("001.010.in-addr.arpa", &n);
	ck_assert_int_eq(dns_reverse_name_to_addr(&n, &family, addr, &parts), DNS_OK);
	ck_assert_uint_eq(addr[0], 10);
	ck_assert_uint_eq(addr[1], 1);

	ck_assert_int_eq(dns_addr_to_reverse_name(AF_INET, lo, 4, &n), DNS_OK);
	assert_name_text(&n, "1.0.0.127.in-addr.arpa");
	ck_assert_int_eq(dns_addr_to_reverse_name(AF_INET, ten, 1, &n), DNS_OK);
	assert_name_text(&n, "10.in-addr.arpa");
	ck_assert_int_eq(dns_addr_to_reverse_name(AF_INET, (const uint8_t *)"\xff\x0a\x64\x00", 4,
	    &n), DNS_OK);
	assert_name_text(&n, "0.100.10.255.in-addr.arpa");
	ck_assert_int_eq(dns_addr_to_reverse_name(AF_INET, lo, 0, &n), DNS_OK);
	assert_name_text(&n, "in-addr.arpa");
	ck_assert_int_eq(dns_addr_to_reverse_name(AF_INET, lo, 5, &n), DNS_E_INVAL);
	ck_assert_int_eq(dns_addr_to_reverse_name(AF_UNIX, lo, 4, &n), DNS_E_INVAL);
}
END_TEST

START_TEST(test_reverse_v6)
{
	struct dns_name n, back;
	uint8_t addr[16];
	unsigned int parts;
	int family;
	static const uint8_t doc[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x01 };
	static const uint8_t ula[16] = { 0xfd };
	static const uint8_t half[16] = { 0x20, 0x01, 0x0d, 0xb0 };

	name_of("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2.ip6.arpa", &n);
	ck_assert_int_eq(dns_reverse_name_to_addr(&n, &family, addr, &parts), DNS_OK);
	ck_assert_int_eq(family, AF_INET6);
	ck_assert_uint_eq(parts, 32);
	ck_assert_mem_eq(addr, doc, 16);
	ck_assert_int_eq(dns_addr_to_reverse_name(AF_INET6, addr, 32, &back), DNS_OK);
	assert_name_text(&back,
	    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
	ck_assert(dns_name_equal(&n, &back));

	name_of("d.f.ip6.arpa", &n);
	ck_assert_int_eq(dns_reverse_name_to_addr(&n, &family, addr, &parts), DNS_OK);
	ck_assert_uint_eq(parts, 2);
	ck_assert_mem_eq(addr, ula, 16);
	/* An odd number of nibbles fills the high half of the last byte. */
	name_of("b.d.0.1.0.0.2.ip6.arpa", &n);
	ck_assert_int_eq(dns_reverse_name_to_addr(&n, &family, addr, &parts), DNS_OK);
	ck_assert_uint_eq(parts, 7);
	ck_assert_mem_eq(addr, half, 16);
	ck_assert_int_eq(dns_addr_to_reverse_name(AF_INET6, addr, 7, &back), DNS_OK);
	ck_assert(dns_name_equal(&n, &back));
	ck_assert_int_eq(dns_addr_to_reverse_name(AF_INET6, addr, 33, &back), DNS_E_INVAL);
}
END_TEST

START_TEST(test_reverse_malformed)
{
	static const char *const bad[] = {
		"256.1.1.1.in-addr.arpa", "1.1.1.1.1.in-addr.arpa", "a.in-addr.arpa",
		"1234.in-addr.arpa", "-1.in-addr.arpa", "1\\.2.in-addr.arpa", "10.ip6.arpa",
		"g.ip6.arpa", "example.com", "arpa", ".", "in-addr.arpa.com", "1.in-addr.arpb",
		"1.xn-addr.arpa",
		"0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa",
	};
	struct dns_name n;
	uint8_t addr[16];
	unsigned int parts;
	int family;

	for (size_t i = 0; i < nitems(bad); i++) {
		name_of(bad[i], &n);
		ck_assert_msg(dns_reverse_name_to_addr(&n, &family, addr, &parts) == DNS_E_SYNTAX,
		    "%s accepted", bad[i]);
	}
	memset(&n, 0x3f, sizeof(n));
	ck_assert_int_eq(dns_reverse_name_to_addr(&n, &family, addr, &parts), DNS_E_SYNTAX);
}
END_TEST

Suite *
dns_suite(void)
{
	Suite *s = suite_create("dns");
	TCase *tc;

	tc = tcase_create("names");
	tcase_add_test(tc, test_name_text_roundtrip);
	tcase_add_test(tc, test_name_text_escapes);
	tcase_add_test(tc, test_name_text_rejects);
	tcase_add_test(tc, test_name_text_limits);
	tcase_add_test(tc, test_name_equal_lower);
	tcase_add_test(tc, test_name_subdomain);
	tcase_add_test(tc, test_name_labels_strip_concat);
	suite_add_tcase(s, tc);

	tc = tcase_create("decompress");
	tcase_add_test(tc, test_decompress_valid);
	tcase_add_test(tc, test_decompress_self_and_loops);
	tcase_add_test(tc, test_decompress_bad_targets);
	tcase_add_test(tc, test_decompress_nested);
	tcase_add_test(tc, test_decompress_truncated_and_labels);
	suite_add_tcase(s, tc);

	tc = tcase_create("parse");
	tcase_add_test(tc, test_parse_query_plain);
	tcase_add_test(tc, test_parse_query_edns);
	tcase_add_test(tc, test_parse_short);
	tcase_add_test(tc, test_parse_lying_counts);
	tcase_add_test(tc, test_parse_rdlength);
	tcase_add_test(tc, test_parse_opt_errors);
	tcase_add_test(tc, test_parse_question_errors);
	tcase_add_test(tc, test_parse_reply);
	tcase_add_test(tc, test_parse_sections_and_trailing);
	tcase_add_test(tc, test_parse_question_only);
	suite_add_tcase(s, tc);

	tc = tcase_create("rdata");
	tcase_add_test(tc, test_rdata_expand_types);
	tcase_add_test(tc, test_rdata_expand_rejects);
	tcase_add_test(tc, test_soa_helpers);
	suite_add_tcase(s, tc);

	tc = tcase_create("build");
	tcase_add_test(tc, test_build_compression);
	tcase_add_test(tc, test_build_rdata_names);
	tcase_add_test(tc, test_build_truncation_512);
	tcase_add_test(tc, test_build_opt_ede);
	tcase_add_test(tc, test_build_order_and_args);
	tcase_add_test(tc, test_build_copy_reply);
	tcase_add_test(tc, test_build_compression_limits);
	tcase_add_test(tc, test_build_rollback);
	tcase_add_test(tc, test_build_compression_budget);
	suite_add_tcase(s, tc);

	tc = tcase_create("raw");
	tcase_add_test(tc, test_raw_header);
	tcase_add_test(tc, test_raw_ttl_and_udp_size);
	suite_add_tcase(s, tc);

	tc = tcase_create("text");
	tcase_add_test(tc, test_text_names);
	tcase_add_test(tc, test_strerror);
	suite_add_tcase(s, tc);

	tc = tcase_create("reverse");
	tcase_add_test(tc, test_reverse_v4);
	tcase_add_test(tc, test_reverse_v6);
	tcase_add_test(tc, test_reverse_malformed);
	suite_add_tcase(s, tc);
	return s;
}
