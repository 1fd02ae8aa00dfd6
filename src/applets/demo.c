/* demo: `zt demo`, a whole private network on loopback with throwaway credentials (an edge, a
 * connector serving the built-in hello service, a resolver and a sidecar), to try by hand or to
 * check end to end with --check. The other applets run as child processes of this binary. */
#include "config.h"

#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "applets.h"
#include "common/conntoken.h"
#include "common/dns.h"
#include "common/log.h"
#include "common/state.h"
#include "common/tls.h"
#include "common/util.h"

static const char usage[] =
"usage: zt demo [--check] [--keep] [--verbose]\n"
"               [--edge-port PORT] [--dns-port PORT] [--access-port PORT]\n"
"\n"
"Starts a private zt network on loopback, with throwaway credentials in a temporary\n"
"directory: an edge, a connector serving the built-in hello service as hello.demo.internal,\n"
"a resolver for the zone demo.internal (zt dns serve) and a sidecar (zt access tcp) with a\n"
"service token. It prints three commands to try, then runs until SIGINT (Ctrl-C) or\n"
"SIGTERM, which stop everything and remove the directory.\n"
"\n"
"  --check           run the three tries itself, print PASS or FAIL for each and exit:\n"
"                    status 0 when all pass\n"
"  --keep            keep the directory (configuration, credentials, logs) at exit\n"
"  -v, --verbose     show what the processes log as it comes\n"
"  --edge-port PORT, --dns-port PORT, --access-port PORT\n"
"                    the ports on 127.0.0.1 (default: free ones)\n";

#define DEMO_ZONE	"demo.internal"
#define DEMO_APP	"hello." DEMO_ZONE
#define DEMO_EDGE_NAME	"demo.edge"
#define DEMO_TUNNEL	"hello"
#define DEMO_TOKEN	"demo"
#define DEMO_INTRUDER	"intruder"	/* a token the app's policy does not name */
#define DEMO_TOKEN_MS	(86400ULL * 1000)
#define DEMO_READY_MS	15000	/* each process gets this long to be ready */
#define DEMO_STOP_MS	5000	/* and this long to stop after SIGTERM */
#define DEMO_CHECK_MS	10000
#define DEMO_PORT_TRIES	3	/* a free port taken by someone else before the child bound it */
#define DEMO_TAIL	12	/* log lines shown when a process fails */

enum demo_kid {
	KID_EDGE = 0,
	KID_CONNECTOR,
	KID_DNS,
	KID_SIDECAR,
	KID_MAX,
};

/* A long-running child: one of the four roles. */
struct kid {
	const char	*role;		/* "edge": its log is DIR/edge.log */
	const char	*what;		/* "zt edge serve" */
	const char	*flag;		/* "edge-port": the option that sets its port */
	pid_t		 pid;		/* 0: not running */
	int		 status;	/* as waitpid gives it, once exited */
	bool		 exited;
	uint16_t	 port;		/* 0 for the connector */
	bool		 port_fixed;	/* given on the command line: never changed */
	char		*log;
	off_t		 shown;		/* --verbose: bytes of the log already shown */
};

struct demo {
	char		*dir;
	char		 exe[PATH_MAX];	/* this binary, for the commands printed */
	bool		 check, keep, verbose;
	struct kid	 kids[KID_MAX];
	char		 pin[TLS_PIN_MAX + 1];
	char		 token_id[STATE_TOKEN_ID_LEN + 1];
	char		 intruder_id[STATE_TOKEN_ID_LEN + 1];
	char		 tunnel_id[STATE_TUNNEL_ID_LEN + 1];
	struct conntoken ct;		/* the connector's, until the edge's port is known */
	sigset_t	 sigs, oldmask;
	int		 stop;		/* the signal that asked us to stop, 0 */
	time_t		 now;
};

/* --- small helpers ----------------------------------------------------------------------- */

/* DIR/name, to be freed. */
static char *
demo_path(const struct demo *d, const char *name)
{
	char *p;

	xasprintf(&p, "%s/%s", d->dir, name);
	return p;
}

/* Writes text to DIR/name with mode; 0, or -1 after logging. */
static int
demo_write(const struct demo *d, const char *name, const char *text, mode_t mode)
{
	char *p = demo_path(d, name);
	int ret = 0;

	if (util_write_file_atomic(p, text, strlen(text), mode) == -1) {
		log_error("cannot write \"%s\"", p);
		ret = -1;
	}
	free(p);
	return ret;
}

/* Writes a secret and a newline to DIR/name, mode 0600; 0, or -1 after logging. */
static int
write_secret(const struct demo *d, const char *name, const char *secret)
{
	char *text;
	int ret;

	xasprintf(&text, "%s\n", secret);
	ret = demo_write(d, name, text, 0600);
	util_cleanse(text, strlen(text));
	free(text);
	return ret;
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Shell-quotes s when it holds anything but safe characters (the temporary directory may). */
static const char *
shq(const char *s, char *buf, size_t len)
{
	size_t o = 0;

	if (strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/._-:+=@%,") ==
	    strlen(s) && *s != '\0')
		return s;
	if (len < 3)
		return "''";
	buf[o++] = '\'';
	for (; *s != '\0'; s++) {
		const char *piece = *s == '\'' ? "'\\''" : NULL;
		size_t n = piece != NULL ? strlen(piece) : 1;

		if (o + n + 2 > len)
			break;
		if (piece != NULL)
			memcpy(buf + o, piece, n);
		else
			buf[o] = *s;
		o += n;
	}
	buf[o++] = '\'';
	buf[o] = '\0';
	return buf;
}

/* The path of prog in a directory of $PATH, to be freed, or NULL. */
static char *
in_path(const char *prog)
{
	const char *path = getenv("PATH");
	char *copy, *dir, *save = NULL, *found = NULL;

	if (path == NULL || *path == '\0')
		return NULL;
	copy = xstrdup(path);
	for (dir = strtok_r(copy, ":", &save); dir != NULL && found == NULL;
	    dir = strtok_r(NULL, ":", &save)) {
		char *p;

		xasprintf(&p, "%s/%s", *dir != '\0' ? dir : ".", prog);
		if (access(p, X_OK) == 0)
			found = p;
		else
			free(p);
	}
	free(copy);
	return found;
}

/* Whether nc is OpenBSD's (Debian's netcat-openbsd), whose -d leaves the terminal alone so
 * that it exits when the service closes the connection. */
static bool
nc_openbsd(void)
{
	char *nc = in_path("nc"), *real = NULL;
	bool ok;

	if (nc != NULL)
		real = realpath(nc, NULL);
	ok = real != NULL && strstr(real, "openbsd") != NULL;
	free(nc);
	free(real);
	return ok;
}

/* --- ports ------------------------------------------------------------------------------- */

/* Whether 127.0.0.1:port can be bound now for TCP (as a server binds it: SO_REUSEADDR) and,
 * with udp, for UDP too. */
static bool
port_free(uint16_t port, bool udp)
{
	struct sockaddr_in sin;
	int one = 1;
	bool ok = true;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int i = 0; i < (udp ? 2 : 1) && ok; i++) {
		int fd = socket(AF_INET, (i == 0 ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);

		if (fd == -1)
			return false;
		if (i == 0)
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		ok = bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
		close(fd);
	}
	return ok;
}

/* A port free on 127.0.0.1 for TCP and UDP, chosen below the ephemeral range so that no
 * outgoing connection takes it meanwhile, and unlike those of the other children; 0 if none. */
static uint16_t
pick_port(const struct demo *d)
{
	unsigned int low = 32768, high;
	FILE *fp;

	if ((fp = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r")) != NULL) {
		if (fscanf(fp, "%u %u", &low, &high) != 2)
			low = 32768;
		fclose(fp);
	}
	if (low < 2048 || low > 65535)
		low = 32768;
	for (int i = 0; i < 500; i++) {
		uint16_t p = (uint16_t)(1024 + (low - 1024) / 2 +
		    util_random_uniform((low - 1024) / 2));
		bool used = false;

		for (int k = 0; k < KID_MAX; k++)
			used |= d->kids[k].port == p;
		if (!used && port_free(p, true))
			return p;
	}
	return 0;
}

/* Whether a socket listening on 127.0.0.1:port (or the wildcard) belongs to process pid:
 * /proc/net/tcp gives the listening sockets' inodes, /proc/PID/fd the process's. */
static bool
listening(pid_t pid, uint16_t port)
{
	unsigned long inodes[16];
	size_t ninodes = 0;
	char line[512], path[64], link[64];
	FILE *fp;
	DIR *dir;
	struct dirent *de;
	bool found = false;

	if ((fp = fopen("/proc/net/tcp", "r")) == NULL)
		return false;
	while (fgets(line, sizeof(line), fp) != NULL && ninodes < 16) {
		unsigned int laddr, lport, st;
		unsigned long inode;

		/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
		if (sscanf(line, " %*d: %x:%x %*x:%*x %x %*x:%*x %*x:%*x %*x %*u %*u %lu", &laddr,
		    &lport, &st, &inode) != 4)
			continue;
		if (st == 0x0a && lport == port && (laddr == htonl(INADDR_LOOPBACK) || laddr == 0))
			inodes[ninodes++] = inode;
	}
	fclose(fp);
	if (ninodes == 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
	if ((dir = opendir(path)) == NULL)
		return false;
	while (!found && (de = readdir(dir)) != NULL) {
		char fd[64 + 256];
		ssize_t n;
		unsigned long inode;

		snprintf(fd, sizeof(fd), "%s/%s", path, de->d_name);
		if ((n = readlink(fd, link, sizeof(link) - 1)) <= 0)
			continue;
		link[n] = '\0';
		if (sscanf(link, "socket:[%lu]", &inode) != 1)
			continue;
		for (size_t i = 0; i < ninodes; i++)
			found |= inodes[i] == inode;
	}
	closedir(dir);
	return found;
}

/* --- processes --------------------------------------------------------------------------- */

/* Starts this binary as `zt ARGV...` with stdin from /dev/null and stdout and stderr appended
 * to log, in a process group of its own (the terminal's Ctrl-C reaches only us: we stop the
 * children in order) and killed with us if we die. Returns its pid, or -1 after logging. */
static pid_t
spawn(struct demo *d, char *const argv[], const char *log)
{
	pid_t parent = getpid(), pid;

	if ((pid = fork()) == -1) {
		log_error("cannot start %s %s", argv[0], argv[1]);
		return -1;
	}
	if (pid == 0) {
		int in, out;

		setpgid(0, 0);
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 || getppid() != parent)
			_exit(127);
		sigprocmask(SIG_SETMASK, &d->oldmask, NULL);
		in = open("/dev/null", O_RDONLY);
		out = open(log, O_WRONLY | O_APPEND | O_CREAT, 0600);
		if (in == -1 || out == -1 || dup2(in, 0) == -1 || dup2(out, 1) == -1 ||
		    dup2(out, 2) == -1)
			_exit(127);
		if (in > 2)
			close(in);
		if (out > 2)
			close(out);
		signal(SIGPIPE, SIG_DFL);
		execv("/proc/self/exe", argv);
		dprintf(2, "zt demo: cannot run %s: %s\n", d->exe, strerror(errno));
		_exit(127);
	}
	return pid;
}

/* Describes a wait status: "exited with status 1", "was killed by signal 9". */
static const char *
status_str(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "was killed by signal %d (%s)", WTERMSIG(status),
		    strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "stopped (status 0x%x)", (unsigned int)status);
	return buf;
}

/* Reaps the kids that exited; returns the first of them not reaped before, or -1. */
static int
reap(struct demo *d)
{
	int first = -1;

	for (int k = 0; k < KID_MAX; k++) {
		struct kid *c = &d->kids[k];
		int status;

		if (c->pid <= 0 || c->exited)
			continue;
		if (waitpid(c->pid, &status, WNOHANG) == c->pid) {
			c->exited = true;
			c->status = status;
			if (first == -1)
				first = k;
		}
	}
	return first;
}

/* --verbose: copies the lines the kids logged since last time to stderr, prefixed. */
static void
follow(struct demo *d)
{
	if (!d->verbose)
		return;
	for (int k = 0; k < KID_MAX; k++) {
		struct kid *c = &d->kids[k];
		char buf[8192];
		FILE *fp;
		size_t n;

		if (c->log == NULL || (fp = fopen(c->log, "r")) == NULL)
			continue;
		if (fseeko(fp, c->shown, SEEK_SET) == 0)
			while (fgets(buf, sizeof(buf), fp) != NULL) {
				n = strlen(buf);
				/* A line still being written waits; a longer one comes in pieces. */
				if (buf[n - 1] != '\n' && n < sizeof(buf) - 1)
					break;
				c->shown += (off_t)n;
				fprintf(stderr, "%-9s| %s%s", c->role, buf,
				    buf[n - 1] != '\n' ? "\n" : "");
			}
		fclose(fp);
	}
}

/* Waits up to ms for a signal; returns -1 if it asked us to stop (d->stop says which). A
 * child's exit only ends the wait early. */
static int
pause_ms(struct demo *d, unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	siginfo_t si;
	int sig;

	follow(d);
	sig = sigtimedwait(&d->sigs, &si, &ts);
	if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) {
		d->stop = sig;
		return -1;
	}
	return 0;
}

/* Prints the last lines of a log to stderr (from its last 64 KiB). */
static void
print_tail(const char *path)
{
	char data[65536], *start;
	struct stat st;
	ssize_t n = 0;
	int fd, lines = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 || fstat(fd, &st) == -1 ||
	    (n = pread(fd, data, sizeof(data), st.st_size > (off_t)sizeof(data) ?
	    st.st_size - (off_t)sizeof(data) : 0)) <= 0) {
		fprintf(stderr, "  (nothing in %s)\n", path);
		if (fd != -1)
			close(fd);
		return;
	}
	close(fd);
	start = data + n;
	if (start[-1] == '\n')
		start--;
	while (start > data && lines < DEMO_TAIL) {
		start--;
		if (*start == '\n')
			lines++;
	}
	if (*start == '\n')
		start++;
	fprintf(stderr, "--- the end of %s:\n", path);
	fwrite(start, 1, (size_t)(data + n - start), stderr);
	if (data[n - 1] != '\n')
		fputc('\n', stderr);
}

/* Says that kid k ended on its own, with the end of its log. */
static void
report_exit(struct demo *d, int k, const char *when)
{
	struct kid *c = &d->kids[k];
	char st[96];

	log_errorx("the %s (%s, pid %ld) %s %s", c->role, c->what, (long)c->pid,
	    status_str(c->status, st, sizeof(st)), when);
	print_tail(c->log);
}

/* Stops the kids, last started first: SIGTERM, then SIGKILL after DEMO_STOP_MS (at once after
 * a second signal from the user); every one is reaped. */
static void
stop_kids(struct demo *d)
{
	bool hurry = false;

	for (int k = KID_MAX - 1; k >= 0; k--) {
		struct kid *c = &d->kids[k];
		uint64_t deadline;

		if (c->pid <= 0 || c->exited)
			continue;
		kill(c->pid, SIGTERM);
		deadline = now_ms() + DEMO_STOP_MS;
		while (!c->exited) {
			int status;

			if (waitpid(c->pid, &status, WNOHANG) == c->pid) {
				c->exited = true;
				c->status = status;
				break;
			}
			if (hurry || now_ms() >= deadline) {
				if (!hurry)
					log_warnx("the %s (pid %ld) did not stop within %d s: killed",
					    c->role, (long)c->pid, DEMO_STOP_MS / 1000);
				kill(c->pid, SIGKILL);
				if (waitpid(c->pid, &status, 0) == c->pid)
					c->status = status;
				c->exited = true;
				break;
			}
			{
				struct timespec ts = { 0, 50 * 1000000 };
				siginfo_t si;
				int sig = sigtimedwait(&d->sigs, &si, &ts);

				if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) {
					hurry = true;
					/* The rest get SIGKILL too, without waiting each. */
					for (int j = k; j >= 0; j--)
						if (d->kids[j].pid > 0 && !d->kids[j].exited)
							kill(d->kids[j].pid, SIGKILL);
				}
			}
		}
		follow(d);
	}
}

/* Runs `zt ARGV...` to its end (at most ms), its output appended to log; returns its wait
 * status, or -1 if it could not run, did not end in time (killed) or we were asked to stop. */
static int
run_wait(struct demo *d, char *const argv[], const char *log, unsigned int ms)
{
	uint64_t deadline = now_ms() + ms;
	pid_t pid = spawn(d, argv, log);
	int status;

	if (pid == -1)
		return -1;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return status;
		if (r == -1 && errno != EINTR)
			return -1;
		if (now_ms() >= deadline || pause_ms(d, 20) == -1) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
	}
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (remove(path) == -1 && errno != ENOENT)
		log_warn("cannot remove \"%s\"", path);
	return 0;
}

/* --- the network ------------------------------------------------------------------------- */

/* The CA, the edge's certificate, the state with the tunnel and both tokens, and the secrets'
 * files: everything that does not depend on a port. Returns 0, or -1 after logging. */
static int
make_credentials(struct demo *d)
{
	const char *names[] = { DEMO_EDGE_NAME, "127.0.0.1" };
	char *ca_crt = demo_path(d, "edge/ca.crt"), *ca_key = demo_path(d, "edge/ca.key");
	char *crt = demo_path(d, "edge/edge.crt"), *key = demo_path(d, "edge/edge.key");
	char *sdir = demo_path(d, "edge/state"), *edir = demo_path(d, "edge");
	char secret[STATE_SECRET_HEX_LEN + 1];
	struct state *st = NULL;
	struct state_token tok;
	struct state_tunnel tun;
	int ret = -1;

	if (mkdir(edir, 0700) == -1) {
		log_error("cannot create \"%s\"", edir);
		goto out;
	}
	if (tls_ca_generate(ca_crt, ca_key, "zt demo CA", 2) == -1 ||
	    tls_leaf_generate(ca_crt, ca_key, names, 2, true, 1, crt, key) == -1 ||
	    tls_spki_pin_file(ca_crt, d->pin, sizeof(d->pin)) == -1 || state_init(sdir) == -1 ||
	    (st = state_open(sdir)) == NULL)
		goto out;

	if (state_token_create(st, DEMO_TOKEN, DEMO_TOKEN_MS, d->now, &tok, secret) == -1)
		goto out;
	util_strlcpy(d->token_id, tok.id, sizeof(d->token_id));
	if (write_secret(d, DEMO_TOKEN ".secret", secret) == -1)
		goto out;
	if (state_token_create(st, DEMO_INTRUDER, DEMO_TOKEN_MS, d->now, &tok, secret) == -1)
		goto out;
	util_strlcpy(d->intruder_id, tok.id, sizeof(d->intruder_id));
	if (write_secret(d, DEMO_INTRUDER ".secret", secret) == -1)
		goto out;

	/* The connector token, as zt tunnel create makes it; its edge comes with the port. */
	if (state_tunnel_create(st, DEMO_TUNNEL, d->now, &tun, secret) == -1)
		goto out;
	util_strlcpy(d->tunnel_id, tun.id, sizeof(d->tunnel_id));
	util_hex_decode(tun.id, strlen(tun.id), d->ct.tunnel_id, sizeof(d->ct.tunnel_id));
	util_hex_decode(secret, STATE_SECRET_HEX_LEN, d->ct.secret, sizeof(d->ct.secret));
	util_strlcpy(d->ct.pin, d->pin, sizeof(d->ct.pin));
	util_strlcpy(d->ct.server_name, DEMO_EDGE_NAME, sizeof(d->ct.server_name));
	ret = 0;
out:
	util_cleanse(secret, sizeof(secret));
	state_free(st);
	free(ca_crt);
	free(ca_key);
	free(crt);
	free(key);
	free(sdir);
	free(edir);
	return ret;
}

/* Writes the kid's configuration for its port and starts it. Returns 0, or -1 after logging. */
static int
start_kid(struct demo *d, int k)
{
	struct kid *c = &d->kids[k];
	char *text = NULL, *cfg = NULL, *a1 = NULL, *a2 = NULL, *a3 = NULL;
	char *argv[24];
	int n = 0, ret = -1;

	argv[n++] = "zt";
	switch (k) {
	case KID_EDGE:
		xasprintf(&text,
		    "; edge.ini of zt demo (zt-edge(8)): throwaway, removed when the demo ends.\n"
		    "[edge]\n"
		    "name = " DEMO_EDGE_NAME "\n"
		    "listen = 127.0.0.1:%u\n"
		    "public = 127.0.0.1:%u\n"
		    "cert_file = edge.crt\n"
		    "key_file = edge.key\n"
		    "ca_file = ca.crt\n"
		    "state_dir = state\n"
		    "audit_log = audit.log\n"
		    "\n"
		    "[app " DEMO_APP "]\n"
		    "tunnel = " DEMO_TUNNEL "\n"
		    "policy = allow token:" DEMO_TOKEN "\n", c->port, c->port);
		if (demo_write(d, "edge/edge.ini", text, 0600) == -1)
			goto out;
		cfg = demo_path(d, "edge/edge.ini");
		argv[n++] = "edge";
		argv[n++] = "serve";
		argv[n++] = "-c";
		argv[n++] = cfg;
		break;
	case KID_CONNECTOR: {
		char token[CONNTOKEN_MAX + 1], err[CONNTOKEN_ERR_MAX], edge[32];

		d->ct.nedges = 0;
		snprintf(edge, sizeof(edge), "127.0.0.1:%u", d->kids[KID_EDGE].port);
		if (conntoken_add_edge(&d->ct, edge, 7844, err, sizeof(err)) == -1 ||
		    conntoken_encode(&d->ct, token, sizeof(token), err, sizeof(err)) == -1) {
			log_errorx("cannot make the connector token: %s", err);
			goto out;
		}
		ret = write_secret(d, "tunnel.token", token);
		util_cleanse(token, sizeof(token));
		if (ret == -1)
			goto out;
		ret = -1;
		a1 = demo_path(d, "tunnel.token");
		a2 = demo_path(d, "tunnel.status");
		xasprintf(&text,
		    "; tunnel.ini of zt demo (zt-tunnel(8)): the connector next to the services.\n"
		    "[tunnel]\n"
		    "token_file = %s\n"
		    "status_file = %s\n"
		    "ha_connections = 2\n"
		    "grace_period = 2s\n"
		    "\n"
		    "[ingress]\n"
		    "rule = " DEMO_APP " hello\n"
		    "rule = * http_status:404\n", a1, a2);
		if (demo_write(d, "tunnel.ini", text, 0600) == -1)
			goto out;
		cfg = demo_path(d, "tunnel.ini");
		argv[n++] = "tunnel";
		argv[n++] = "run";
		argv[n++] = "-c";
		argv[n++] = cfg;
		break;
	}
	case KID_DNS:
		xasprintf(&text,
		    "# dnsmasq.conf of zt demo (zt-dns(8)): dnsmasq's syntax, as is.\n"
		    "port=%u\n"
		    "listen-address=127.0.0.1\n"
		    "bind-interfaces\n"
		    "no-resolv\n"
		    "no-hosts\n"
		    "# every name under " DEMO_ZONE " (" DEMO_APP " too) is the loopback address\n"
		    "address=/" DEMO_ZONE "/127.0.0.1\n"
		    "host-record=edge." DEMO_ZONE ",127.0.0.1\n", c->port);
		if (demo_write(d, "dnsmasq.conf", text, 0600) == -1)
			goto out;
		cfg = demo_path(d, "dnsmasq.conf");
		argv[n++] = "dns";
		argv[n++] = "serve";
		argv[n++] = "-k";
		argv[n++] = "-C";
		argv[n++] = cfg;
		break;
	case KID_SIDECAR:
		xasprintf(&a1, "127.0.0.1:%u", c->port);
		xasprintf(&a2, "127.0.0.1:%u", d->kids[KID_EDGE].port);
		a3 = demo_path(d, DEMO_TOKEN ".secret");
		argv[n++] = "access";
		argv[n++] = "tcp";
		argv[n++] = "--hostname";
		argv[n++] = DEMO_APP;
		argv[n++] = "--url";
		argv[n++] = a1;
		argv[n++] = "--id";
		argv[n++] = d->token_id;
		argv[n++] = "--secret-file";
		argv[n++] = a3;
		argv[n++] = "--edge";
		argv[n++] = a2;
		argv[n++] = "--edge-pin";
		argv[n++] = d->pin;
		break;
	}
	/* Logs are for people: text even in a file. */
	argv[n++] = "--log-format=text";
	argv[n] = NULL;
	{
		int fd = open(c->log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);

		if (fd != -1) {
			dprintf(fd, "--- zt demo: started %s\n", c->what);
			close(fd);
		}
	}
	c->exited = false;
	c->status = 0;
	if ((c->pid = spawn(d, argv, c->log)) == -1) {
		c->pid = 0;
		goto out;
	}
	ret = 0;
out:
	free(text);
	free(cfg);
	free(a1);
	free(a2);
	free(a3);
	return ret;
}

/* Asks the resolver at 127.0.0.1:port for the A records of name over UDP. Returns 0 with the
 * addresses in out ("127.0.0.1"), or -1 with the reason in out. */
static int
dns_ask(uint16_t port, const char *name, char *out, size_t outlen)
{
	uint8_t q[512], r[1500];
	struct dns_builder b;
	struct dns_name qn;
	struct dns_msg m;
	struct dns_rr rr;
	struct sockaddr_in sin;
	struct pollfd pfd;
	uint16_t id = (uint16_t)util_random_uniform(65536);
	size_t qlen, pos, o = 0;
	ssize_t n;
	int fd, ret = -1;
	char rc[DNS_TYPE_TEXT];

	snprintf(out, outlen, "no answer within 1 s");
	if (dns_name_from_text(name, &qn) != 0 || dns_builder_init(&b, q, sizeof(q), id,
	    DNS_F_RD) != 0 || dns_build_question(&b, &qn, DNS_T_A, DNS_C_IN) != 0) {
		snprintf(out, outlen, "cannot build a query for \"%s\"", name);
		return -1;
	}
	qlen = dns_builder_finish(&b);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    send(fd, q, qlen, 0) != (ssize_t)qlen) {
		snprintf(out, outlen, "cannot send the query: %s", strerror(errno));
		goto out;
	}
	pfd.fd = fd;
	pfd.events = POLLIN;
	for (;;) {
		if (poll(&pfd, 1, 1000) <= 0)
			goto out;
		if ((n = recv(fd, r, sizeof(r), 0)) == -1) {
			snprintf(out, outlen, "%s", strerror(errno));	/* ECONNREFUSED: none yet */
			goto out;
		}
		if (dns_parse(r, (size_t)n, &m) == 0 && m.id == id && (m.flags & DNS_F_QR))
			break;
	}
	if (dns_msg_rcode(&m) != DNS_R_NOERROR) {
		dns_rcode_name(dns_msg_rcode(&m), rc, sizeof(rc));
		snprintf(out, outlen, "the answer is %s", rc);
		goto out;
	}
	out[0] = '\0';
	pos = m.sec_off[DNS_SEC_ANSWER];
	while (dns_rr_next(&m, r, (size_t)n, &pos, &rr) == 1 && rr.section == DNS_SEC_ANSWER) {
		char a[INET_ADDRSTRLEN];

		if (rr.type != DNS_T_A || rr.rclass != DNS_C_IN || rr.rdlength != 4)
			continue;
		inet_ntop(AF_INET, rr.rdata, a, sizeof(a));
		if (o + strlen(a) + 2 < outlen) {
			snprintf(out + o, outlen - o, "%s%s", o > 0 ? " " : "", a);
			o = strlen(out);
		}
	}
	if (o == 0) {
		snprintf(out, outlen, "no A record in the answer");
		goto out;
	}
	ret = 0;
out:
	if (fd != -1)
		close(fd);
	return ret;
}

/* Whether kid k is ready: its port is open (edge, sidecar), it has a registered connection
 * (zt tunnel ready), it answers (resolver). */
static bool
kid_ready(struct demo *d, int k)
{
	struct kid *c = &d->kids[k];

	switch (k) {
	case KID_EDGE:
	case KID_SIDECAR:
		return listening(c->pid, c->port);
	case KID_CONNECTOR: {
		char *status = demo_path(d, "tunnel.status"), *log = demo_path(d, "ready.log");
		char *argv[] = { "zt", "tunnel", "ready", "--status-file", status, NULL };
		int st = run_wait(d, argv, log, 5000);

		free(status);
		free(log);
		return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
	}
	case KID_DNS: {
		char out[128];

		return dns_ask(c->port, DEMO_APP, out, sizeof(out)) == 0;
	}
	}
	return false;
}

/* Starts kid k and waits until it is ready; if its port was taken by someone else before it
 * could bind it, tries another. Returns 0, or -1 after saying why (d->stop: a signal). */
static int
bring_up(struct demo *d, int k)
{
	struct kid *c = &d->kids[k];

	for (int attempt = 1;; attempt++) {
		uint64_t deadline;
		int dead;

		if (k != KID_CONNECTOR && !c->port_fixed && (c->port = pick_port(d)) == 0) {
			log_errorx("no free port on 127.0.0.1 for the %s", c->role);
			return -1;
		}
		if (start_kid(d, k) == -1)
			return -1;
		deadline = now_ms() + DEMO_READY_MS;
		for (;;) {
			if ((dead = reap(d)) != -1)
				break;
			if (kid_ready(d, k))
				return 0;
			if (d->stop != 0 || pause_ms(d, 100) == -1)
				return -1;
			if (now_ms() >= deadline) {
				log_errorx("the %s (%s, pid %ld) was not ready within %d s", c->role,
				    c->what, (long)c->pid, DEMO_READY_MS / 1000);
				print_tail(c->log);
				return -1;
			}
		}
		if (dead == k && k != KID_CONNECTOR && !c->port_fixed && attempt < DEMO_PORT_TRIES &&
		    !port_free(c->port, k == KID_DNS)) {
			log_info("port %u was taken before the %s could bind it: trying another",
			    c->port, c->role);
			c->pid = 0;
			continue;
		}
		report_exit(d, dead, "before it was ready");
		if (dead == k && c->port_fixed && !port_free(c->port, k == KID_DNS))
			log_errorx("port %u, given with --%s, is in use by another program: stop it "
			    "or give another port", c->port, c->flag);
		return -1;
	}
}

/* --- what to try ------------------------------------------------------------------------- */

/* The three commands, as printed: through the sidecar, a private name, a refused token. */
static void
try_commands(const struct demo *d, char **reach, char **resolve, char **refuse)
{
	char q1[PATH_MAX * 4 + 3], q2[PATH_MAX * 4 + 3];
	char *secret = demo_path(d, DEMO_INTRUDER ".secret");

	if (nc_openbsd())
		xasprintf(reach, "nc -d 127.0.0.1 %u", d->kids[KID_SIDECAR].port);
	else	/* bash is in every Debian */
		xasprintf(reach, "bash -c 'cat </dev/tcp/127.0.0.1/%u'", d->kids[KID_SIDECAR].port);
	xasprintf(resolve, "dig @127.0.0.1 -p %u " DEMO_APP, d->kids[KID_DNS].port);
	xasprintf(refuse, "%s access tcp --hostname " DEMO_APP " --id %s --secret-file %s "
	    "--edge 127.0.0.1:%u --edge-pin %s", shq(d->exe, q1, sizeof(q1)), d->intruder_id,
	    shq(secret, q2, sizeof(q2)), d->kids[KID_EDGE].port, d->pin);
	free(secret);
}

static void
print_block(const struct demo *d)
{
	char *reach, *resolve, *refuse, *dig;

	try_commands(d, &reach, &resolve, &refuse);
	printf("\nA private zt network runs on 127.0.0.1, in %s:\n\n", d->dir);
	printf("  edge       127.0.0.1:%-5u  app " DEMO_APP ": allow token:" DEMO_TOKEN "\n",
	    d->kids[KID_EDGE].port);
	printf("  connector  tunnel " DEMO_TUNNEL "     serves " DEMO_APP " (the hello service)\n");
	printf("  resolver   127.0.0.1:%-5u  *." DEMO_ZONE " is 127.0.0.1 (dnsmasq.conf)\n",
	    d->kids[KID_DNS].port);
	printf("  sidecar    127.0.0.1:%-5u  to " DEMO_APP " with token " DEMO_TOKEN "\n",
	    d->kids[KID_SIDECAR].port);
	printf("\nTry, from another terminal:\n\n");
	printf("  1. %s\n", reach);
	printf("     the hello service answers through the sidecar, the edge and the connector\n");
	printf("  2. %s\n", resolve);
	printf("     the private name, from the resolver\n");
	printf("  3. %s\n", refuse);
	printf("     token " DEMO_INTRUDER " is valid, but the app's policy does not allow it:"
	    " refused\n");
	if ((dig = in_path("dig")) == NULL)
		printf("\n(dig is in Debian's bind9-dnsutils.)\n");
	free(dig);
	printf("\nLogs: %s/*.log. Ctrl-C stops everything and removes %s.\n", d->dir, d->dir);
	fflush(stdout);
	free(reach);
	free(resolve);
	free(refuse);
}

/* --- --check ------------------------------------------------------------------------------ */

/* Connects to the sidecar and reads what comes back until the end (at most DEMO_CHECK_MS). */
static bool
check_reach(struct demo *d, char *detail, size_t len)
{
	struct sockaddr_in sin;
	struct pollfd pfd;
	char buf[1024], *want;
	size_t got = 0;
	uint64_t deadline = now_ms() + DEMO_CHECK_MS;
	int fd;
	bool ok = false;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(d->kids[KID_SIDECAR].port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		snprintf(detail, len, "cannot connect to the sidecar 127.0.0.1:%u: %s",
		    d->kids[KID_SIDECAR].port, strerror(errno));
		goto out;
	}
	pfd.fd = fd;
	pfd.events = POLLIN;
	for (;;) {
		uint64_t now = now_ms();
		ssize_t n;

		if (now >= deadline || poll(&pfd, 1, (int)(deadline - now)) <= 0) {
			snprintf(detail, len, "the connection did not end within %d s (got %zu "
			    "bytes)", DEMO_CHECK_MS / 1000, got);
			goto out;
		}
		if ((n = read(fd, buf + got, sizeof(buf) - 1 - got)) <= 0)
			break;
		got += (size_t)n;
		if (got == sizeof(buf) - 1)
			break;
	}
	buf[got] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	/* The banner names the app, the tunnel (the first 16 hex digits of its id, as the
	 * connector knows it) and who asked. */
	xasprintf(&want, "hello from zt: " DEMO_APP " via tunnel %.16s, for token:" DEMO_TOKEN
	    " from 127.0.0.1:", d->tunnel_id);
	if (strncmp(buf, want, strlen(want)) != 0) {
		snprintf(detail, len, "expected \"%s...\", got \"%.200s\"", want, buf);
		free(want);
		goto out;
	}
	free(want);
	snprintf(detail, len, "%.300s", buf);
	ok = true;
out:
	if (fd != -1)
		close(fd);
	return ok;
}

static bool
check_resolve(struct demo *d, char *detail, size_t len)
{
	char out[256];

	if (dns_ask(d->kids[KID_DNS].port, DEMO_APP, out, sizeof(out)) == -1) {
		snprintf(detail, len, DEMO_APP ": %s", out);
		return false;
	}
	if (strcmp(out, "127.0.0.1") != 0) {
		snprintf(detail, len, DEMO_APP " is %s, not 127.0.0.1", out);
		return false;
	}
	snprintf(detail, len, DEMO_APP " is %s", out);
	return true;
}

/* Runs the sidecar in its stdin/stdout mode with the intruder's token: it must exit 1 after
 * the edge says that the policy does not allow it. */
static bool
check_refuse(struct demo *d, char *detail, size_t len)
{
	char *secret = demo_path(d, DEMO_INTRUDER ".secret"), *log = demo_path(d, "refused.log");
	char edge[32], *data = NULL, *line, st[96];
	char *argv[] = { "zt", "access", "tcp", "--hostname", DEMO_APP, "--id", d->intruder_id,
	    "--secret-file", secret, "--edge", edge, "--edge-pin", d->pin, "--log-format=text",
	    NULL };
	size_t dlen;
	int status;
	bool ok = false;

	snprintf(edge, sizeof(edge), "127.0.0.1:%u", d->kids[KID_EDGE].port);
	status = run_wait(d, argv, log, DEMO_CHECK_MS);
	if (status == -1) {
		snprintf(detail, len, "zt access tcp with token " DEMO_INTRUDER " did not end within "
		    "%d s", DEMO_CHECK_MS / 1000);
		goto out;
	}
	if (util_read_file(log, 1 << 20, &data, &dlen) == -1)
		data = xstrdup("");
	line = strstr(data, "does not allow");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 1 || line == NULL) {
		snprintf(detail, len, "zt access tcp with token " DEMO_INTRUDER " %s, without "
		    "saying that the edge does not allow it (see %s)",
		    status_str(status, st, sizeof(st)), log);
		goto out;
	}
	while (line > data && line[-1] != '\n' && line[-1] != ':')
		line--;
	while (*line == ' ')
		line++;
	line[strcspn(line, "\n")] = '\0';
	snprintf(detail, len, "token " DEMO_INTRUDER ": %.300s", line);
	ok = true;
out:
	free(data);
	free(secret);
	free(log);
	return ok;
}

/* Runs the three checks; true when all pass. */
static bool
run_checks(struct demo *d)
{
	static const struct {
		const char *name;
		bool (*fn)(struct demo *, char *, size_t);
	} checks[] = {
		{ "reach hello through the sidecar", check_reach },
		{ "resolve the private name", check_resolve },
		{ "refuse a token the policy does not allow", check_refuse },
	};
	bool all = true;

	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]) && d->stop == 0; i++) {
		char detail[512];
		bool ok = checks[i].fn(d, detail, sizeof(detail));

		if (d->stop != 0)
			break;
		printf("%s %s: %s\n", ok ? "PASS" : "FAIL", checks[i].name, detail);
		fflush(stdout);
		all &= ok;
	}
	return all && d->stop == 0;
}

/* --- main -------------------------------------------------------------------------------- */

static int
parse_port(const char *flag, const char *s, struct kid *c)
{
	uint16_t p;

	if (util_parse_port(s, false, &p) == -1) {
		fprintf(stderr, "zt demo: %s \"%s\": give a port number, 1-65535\n", flag, s);
		return -1;
	}
	c->port = p;
	c->port_fixed = true;
	return 0;
}

int
demo_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "check", no_argument, NULL, 'c' },
		{ "keep", no_argument, NULL, 'k' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "edge-port", required_argument, NULL, 'E' },
		{ "dns-port", required_argument, NULL, 'D' },
		{ "access-port", required_argument, NULL, 'A' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const roles[KID_MAX][3] = {
		{ "edge", "zt edge serve", "edge-port" },
		{ "connector", "zt tunnel run", NULL },
		{ "resolver", "zt dns serve", "dns-port" },
		{ "sidecar", "zt access tcp", "access-port" },
	};
	struct demo *d = xcalloc(1, sizeof(*d));
	const char *tmp;
	char *tmpl = NULL;
	ssize_t n;
	int ch, ret = 2;
	bool masked = false;

	for (int k = 0; k < KID_MAX; k++) {
		d->kids[k].role = roles[k][0];
		d->kids[k].what = roles[k][1];
		d->kids[k].flag = roles[k][2];
	}
	optind = 1;
	while ((ch = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': d->check = true; break;
		case 'k': d->keep = true; break;
		case 'v': d->verbose = true; break;
		case 'E':
			if (parse_port("--edge-port", optarg, &d->kids[KID_EDGE]) == -1)
				goto out;
			break;
		case 'D':
			if (parse_port("--dns-port", optarg, &d->kids[KID_DNS]) == -1)
				goto out;
			break;
		case 'A':
			if (parse_port("--access-port", optarg, &d->kids[KID_SIDECAR]) == -1)
				goto out;
			break;
		case 'h':
			fputs(usage, stdout);
			ret = 0;
			goto out;
		default:
			fputs(usage, stderr);
			goto out;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "zt demo: unexpected argument \"%s\"\n", argv[optind]);
		fputs(usage, stderr);
		goto out;
	}
	for (int i = 0; i < KID_MAX; i++)
		for (int j = i + 1; j < KID_MAX; j++)
			if (d->kids[i].port != 0 && d->kids[i].port == d->kids[j].port) {
				fprintf(stderr, "zt demo: the %s and the %s cannot share port %u\n",
				    d->kids[i].role, d->kids[j].role, d->kids[i].port);
				goto out;
			}
	ret = 1;
	log_set_format(LOG_FORMAT_TEXT);
	if ((n = readlink("/proc/self/exe", d->exe, sizeof(d->exe) - 1)) <= 0) {
		log_error("cannot find this program's path (/proc/self/exe)");
		goto out;
	}
	d->exe[n] = '\0';
	d->now = time(NULL);

	/* Signals are read with sigtimedwait between steps; children get the mask back. */
	sigemptyset(&d->sigs);
	sigaddset(&d->sigs, SIGINT);
	sigaddset(&d->sigs, SIGTERM);
	sigaddset(&d->sigs, SIGHUP);
	sigaddset(&d->sigs, SIGCHLD);
	sigprocmask(SIG_BLOCK, &d->sigs, &d->oldmask);
	masked = true;
	/* A closed standard output must not kill us before we clean up. */
	signal(SIGPIPE, SIG_IGN);

	if ((tmp = getenv("TMPDIR")) == NULL || *tmp == '\0')
		tmp = "/tmp";
	xasprintf(&tmpl, "%s/zt-demo.XXXXXX", tmp);
	if (mkdtemp(tmpl) == NULL) {
		log_error("cannot create a directory \"%s\" (is $TMPDIR writable?)", tmpl);
		goto out;
	}
	d->dir = tmpl;
	tmpl = NULL;
	printf("zt demo: starting an edge, a connector, a resolver and a sidecar in %s\n",
	    d->dir);
	fflush(stdout);
	for (int k = 0; k < KID_MAX; k++) {
		char name[64];

		snprintf(name, sizeof(name), "%s.log", d->kids[k].role);
		d->kids[k].log = demo_path(d, name);
	}
	if (make_credentials(d) == -1)
		goto stop;
	for (int k = 0; k < KID_MAX; k++)
		if (bring_up(d, k) == -1)
			goto stop;

	if (d->check) {
		if (run_checks(d))
			ret = 0;
		goto stop;
	}
	print_block(d);
	for (;;) {
		int dead;

		if ((dead = reap(d)) != -1) {
			report_exit(d, dead, "while the demo ran");
			goto stop;
		}
		if (pause_ms(d, 250) == -1)
			break;
	}
	ret = 0;
stop:
	if (d->stop != 0)
		printf("\nzt demo: %s: stopping\n", d->stop == SIGINT ? "SIGINT" :
		    d->stop == SIGTERM ? "SIGTERM" : "SIGHUP");
	fflush(stdout);
	stop_kids(d);
	if (d->stop != 0 && d->check)
		ret = 1;
	if (d->keep)
		printf("zt demo: kept %s\n", d->dir);
	else if (nftw(d->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == -1)
		log_warn("cannot remove \"%s\"", d->dir);
out:
	if (masked)
		sigprocmask(SIG_SETMASK, &d->oldmask, NULL);
	conntoken_clear(&d->ct);
	for (int k = 0; k < KID_MAX; k++)
		free(d->kids[k].log);
	free(d->dir);
	free(tmpl);
	free(d);
	return ret;
}
