/* fuzz_resolver: the whole query path of zt dns: a client query through the pipeline, and an
 * upstream reply turned into the client's reply (and cached). */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/dns.h"
#include "common/dnscache.h"
#include "common/dnsconf.h"
#include "common/log.h"
#include "common/resolver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fuzz_conf[] =
"no-resolv\nno-hosts\n"
"server=192.0.2.53\nserver=/fwd.test/192.0.2.54\nrev-server=10.99.0.0/16,192.0.2.55\n"
"address=/webdevelop.internal/10.130.0.1\naddress=/kratos.webdevelop.internal/10.130.0.100\n"
"address=/both.test/192.0.2.77\naddress=/both.test/2001:db8::77\naddress=/zero.test/#\n"
"address=/blocked.test/\nlocal=/corp.test/\naddress=/a.corp.test/10.5.5.5\n"
"address=/*wild.test/192.0.2.55\nserver=//192.0.2.56\n"
"domain-needed\nbogus-priv\ncname=cn.example.test,rec.example.test\n"
"cname=loop1.test,loop2.test\ncname=loop2.test,cn.example.test\n"
"host-record=rec.example.test,192.0.2.10,2001:db8::10\n"
"txt-record=txt.example.test,\"v=spf1 -all\"\n"
"srv-host=_ldap._tcp.example.test,ldap.example.test,389,10,20\n"
"mx-host=example.test,mail.example.test,5\nptr-record=5.2.0.192.in-addr.arpa,five.test\n"
"max-ttl=100\ncache-size=64\n";

static struct dnsconf *conf;
static struct dnscache *cache;
static struct resolver *res;
static uint8_t out[DNS_MAXMSG];

static void
fuzz_init(void)
{
	struct dnsconf_params params = { .no_files = true };
	struct dnscache_options copts = { .size = 64 };

	log_init("fuzz", LOG_LEVEL_ERROR, LOG_FORMAT_TEXT);
	log_set_output(fopen("/dev/null", "w"));
	if (dnsconf_load_buffer(&params, "fuzz.conf", fuzz_conf, sizeof(fuzz_conf) - 1, &conf)
	    != 0)
		abort();
	cache = dnscache_new(&copts);
	res = resolver_new(conf, cache, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct resolver_result r;
	bool tcp;
	time_t now;

	if (res == NULL)
		fuzz_init();
	if (size < 3)
		return 0;
	tcp = data[0] & 1;
	now = 1000 + (data[0] >> 2);
	if (!(data[0] & 2)) {
		/* A client query alone. */
		resolver_query(res, data + 1, size - 1, tcp, now, out, sizeof(out), &r);
		if (r.action == RESOLVER_REPLY && (r.len > sizeof(out) ||
		    (!tcp && r.len > 1232)))
			abort();
	} else {
		/* A client query (length in two bytes) and the upstream's reply to it. */
		size_t qlen = (size_t)data[1] << 8 | data[2];
		const uint8_t *q = data + 3, *up;
		struct dns_msg um;
		size_t uplen, n;

		if (qlen > size - 3)
			return 0;
		up = q + qlen;
		uplen = size - 3 - qlen;
		resolver_query(res, q, qlen, tcp, now, out, sizeof(out), &r);
		if (r.action != RESOLVER_FORWARD || dns_parse(up, uplen, &um) != 0)
			return 0;
		n = resolver_forwarded_reply(res, q, qlen, tcp, up, uplen, &um, r.rewrite_nx,
		    r.cache_ok, now, out, sizeof(out));
		if (n > sizeof(out) || (!tcp && n > 1232))
			abort();
		/* And again from the cache, if it was stored. */
		resolver_query(res, q, qlen, tcp, now + 1, out, sizeof(out), &r);
	}
	return 0;
}
